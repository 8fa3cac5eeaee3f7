"""Leases on rate-limit buckets: one worker serves a bucket at a time, and takes over when the
holder stops renewing (it crashed, was killed, or lost the database).

A lease alone cannot make a channel call safe: a worker can stall (a long GC pause, a lost
database, a call slower than the lease) while its request is on the wire, another worker takes
the bucket and sends newer values, and the stale answer comes back last. So every claim raises
the row's **fencing token**, and a worker records what a channel accepted (or clears marks) only
in a transaction that first proves, with an ``UPDATE`` that locks the lease row, that the row
still names it *and* its token (:meth:`LeaseFence.holds`). A worker that lost the bucket records
nothing; it raises the token itself (:meth:`LeaseFence.revoke`), so that whatever the new holder
has in flight is not recorded either, and the dates it sent are forgotten and marked again: the
holder sends them once more, after the stale request has landed.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from innsync.connections.models import SYNCABLE_STATES, Connection
from innsync.db.claims import lock_free
from innsync.marketplace.models import AriSource
from innsync.outbox.models import DirtyMark
from innsync.sync.models import BucketLease
from innsync.sync.state import forget_marked

__all__ = [
    "SYNCABLE_STATES",
    "LeaseFence",
    "buckets_with_work",
    "claim",
    "ensure_lease_rows",
    "marked_connections",
    "release",
    "renew",
]


def marked_connections(session: Session, limit: int) -> list[uuid.UUID] | None:
    """The connections that have dirty marks, when there are at most ``limit`` of them (else
    None): read from the marks' index, at most ``limit`` + 1 connections' worth of it."""
    found = list(session.scalars(select(DirtyMark.connection_id).distinct().limit(limit + 1)))
    return found if len(found) <= limit else None


def buckets_with_work(
    session: Session,
    *,
    after: str | None = None,
    through: str | None = None,
    limit: int | None = None,
    among: Collection[uuid.UUID] | None = None,
) -> list[str]:
    """Buckets of connections that have dirty marks and may push (pushing on, in a syncable
    state, not an ARI source), whatever their budgets (``budgets.readiness``), in key order:
    all of them, or a window of the first ``limit`` keys above ``after`` and up to ``through``.

    ``among`` are the connections known to have marks (:func:`marked_connections`, when they
    are few); without it the query walks the bucket-key index and looks up each connection's
    marks by index, so a window reads about ``limit`` connections when most have marks.
    """
    if among is not None and not among:
        return []
    has_marks = (
        Connection.id.in_(among)
        if among is not None
        # A scalar subquery rather than EXISTS: MariaDB turns EXISTS into a semi-join that
        # first reads every mark, instead of stopping once the window is full.
        else select(DirtyMark.kind)
        .where(DirtyMark.connection_id == Connection.id)
        .limit(1)
        .scalar_subquery()
        .is_not(None)
    )
    query = (
        select(Connection.bucket_key)
        .where(
            Connection.push_enabled.is_(True),
            Connection.state.in_(SYNCABLE_STATES),
            # ARI sources get no ARI pushed (marketplace/): their marks are never sent.
            Connection.id.not_in(select(AriSource.connection_id)),
            has_marks,
        )
        .distinct()
        .order_by(Connection.bucket_key)
        .limit(limit)
    )
    if after is not None:
        query = query.where(Connection.bucket_key > after)
    if through is not None:
        query = query.where(Connection.bucket_key <= through)
    return list(session.scalars(query))


def ensure_lease_rows(session: Session, bucket_keys: Sequence[str]) -> None:
    """Create the lease rows of ``bucket_keys`` that do not exist yet (a bucket's first work)."""
    if not bucket_keys:
        return
    existing = set(
        session.scalars(
            select(BucketLease.bucket_key).where(BucketLease.bucket_key.in_(bucket_keys))
        )
    )
    for key in bucket_keys:
        if key in existing:
            continue
        try:
            with session.begin_nested():
                session.add(BucketLease(bucket_key=key, limiter_state={}))
        except IntegrityError:
            pass  # another worker created it in the meantime: that is all we wanted


def claim(
    session: Session,
    holder: str,
    bucket_keys: Sequence[str],
    now: datetime,
    lease: timedelta,
    limit: int,
) -> list[BucketLease]:
    """Take free, expired or own leases among ``bucket_keys``; rows locked by others are skipped."""
    if not bucket_keys:
        return []
    query = (
        select(BucketLease)
        .where(
            BucketLease.bucket_key.in_(bucket_keys),
            (BucketLease.holder.is_(None))
            | (BucketLease.holder == holder)
            | (BucketLease.expires_at < now),
        )
        .where((BucketLease.not_before.is_(None)) | (BucketLease.not_before <= now))
        .order_by(BucketLease.bucket_key)
    )
    claimed = lock_free(session, query, limit)
    for row in claimed:
        if row.holder not in (None, holder):
            # Taken over from a holder whose lease ran out unreleased (it died, or stalls and
            # will find its fence void): a request of its may have reached the channel.
            forget_marked(session, row.bucket_key)
        row.holder = holder
        row.expires_at = now + lease
        row.fence = (row.fence or 0) + 1  # whatever an earlier holder has in flight is void
    return claimed


@dataclass(frozen=True, slots=True)
class LeaseFence:
    """A worker's proof that it serves a bucket: its name and the token its claim got."""

    bucket_key: str
    holder: str
    token: int

    @classmethod
    def of(cls, lease: BucketLease) -> LeaseFence:
        """The fence of a lease just claimed (in the claiming transaction)."""
        if lease.holder is None:
            raise ValueError("a fence needs a claimed lease")
        return cls(lease.bucket_key, lease.holder, lease.fence)

    def holds(self, session: Session, now: datetime, lease: timedelta) -> bool:
        """In the caller's transaction: is the bucket still ours? Extends the lease when it is.

        An ``UPDATE`` rather than a read: it locks the lease row until the caller commits (on
        SQLite it takes the write lock), so no claim can come between this check and the writes
        it guards. The expiry is not looked at: an expired lease nobody claimed is still ours,
        since any claim would have raised the token.
        """
        result = session.execute(
            update(BucketLease)
            .where(
                BucketLease.bucket_key == self.bucket_key,
                BucketLease.holder == self.holder,
                BucketLease.fence == self.token,
            )
            .values(expires_at=now + lease)
        )
        return bool(getattr(result, "rowcount", 0))

    def revoke(self, session: Session) -> None:
        """We lost the bucket and a request of ours was answered: void every token so far.

        The new holder may have sent newer values before ours landed; it must not record them,
        as the channel may hold ours.
        """
        session.execute(
            update(BucketLease)
            .where(BucketLease.bucket_key == self.bucket_key)
            .values(fence=BucketLease.fence + 1)
        )


def renew(
    session: Session,
    holder: str,
    bucket_key: str,
    now: datetime,
    lease: timedelta,
    fence: LeaseFence | None = None,
) -> bool:
    """Extend our lease; False means another worker took the bucket and we must stop serving it."""
    if fence is not None:
        return fence.holds(session, now, lease)
    result = session.execute(
        update(BucketLease)
        .where(
            BucketLease.bucket_key == bucket_key,
            BucketLease.holder == holder,
            BucketLease.expires_at >= now,
        )
        .values(expires_at=now + lease)
    )
    return bool(getattr(result, "rowcount", 0))


def release(session: Session, holder: str, bucket_key: str) -> None:
    session.execute(
        update(BucketLease)
        .where(BucketLease.bucket_key == bucket_key, BucketLease.holder == holder)
        .values(holder=None, expires_at=None)
    )

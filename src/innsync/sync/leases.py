"""Leases on rate-limit buckets: one worker serves a bucket at a time, and takes over when the
holder stops renewing (it crashed, was killed, or lost the database)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from innsync.connections.models import Connection
from innsync.outbox.models import DirtyMark
from innsync.sync.models import BucketLease

SYNCABLE_STATES = ("pending", "connected")


def buckets_with_work(session: Session, now: datetime) -> list[str]:
    """Buckets of connections that have dirty marks and may push now."""
    query = (
        select(Connection.bucket_key)
        .join(DirtyMark, DirtyMark.connection_id == Connection.id)
        .where(
            Connection.push_enabled.is_(True),
            Connection.state.in_(SYNCABLE_STATES),
        )
        .distinct()
    )
    return sorted(session.scalars(query))


def ensure_lease_rows(session: Session, bucket_keys: Sequence[str]) -> None:
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
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    claimed = list(session.scalars(query))
    for row in claimed:
        row.holder = holder
        row.expires_at = now + lease
    return claimed


def renew(session: Session, holder: str, bucket_key: str, now: datetime, lease: timedelta) -> bool:
    """Extend our lease; False means another worker took the bucket and we must stop serving it."""
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

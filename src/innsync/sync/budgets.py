"""Which buckets have work their budgets allow now, so a spent budget holds back only its kind.

A bucket's limiter state (saved with its lease) records, per kind of push, until when that
kind's budget is spent (``blocked_until``). A bucket is worth claiming when some kind with
dirty marks is not blocked: rates waiting for the restrictions window never hold back a
booking's availability, and a bucket whose only work is blocked is not claimed again and
again for nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from innsync.connections.models import Connection
from innsync.outbox.models import DirtyMark
from innsync.sync.models import BucketLease

BLOCKED_UNTIL = "blocked_until"
"""The limiter-state key: kind of push to the epoch second its budget has room again."""


def blocked_until(state: Mapping[str, Any]) -> dict[str, float]:
    """The kinds whose budget was found spent, and when it has room again."""
    saved = state.get(BLOCKED_UNTIL)
    if not isinstance(saved, Mapping):
        return {}
    return {
        str(kind): float(until)
        for kind, until in saved.items()
        if isinstance(until, int | float) and not isinstance(until, bool)
    }


def set_blocked(state: MutableMapping[str, Any], kinds: Iterable[str], until: float | None) -> None:
    """Record that ``kinds`` wait until ``until`` (``None``: they may go now)."""
    blocked = blocked_until(state)
    for kind in kinds:
        if until is None:
            blocked.pop(kind, None)
        else:
            blocked[kind] = until
    state[BLOCKED_UNTIL] = blocked


def readiness(
    session: Session, bucket_keys: Sequence[str], now: datetime
) -> tuple[list[str], datetime | None]:
    """The buckets among ``bucket_keys`` with dirty marks of a kind whose budget has room, and
    the earliest moment one of the others has room again (a spent budget's window reopens, a
    backoff ends), so a worker with nothing to do now can sleep exactly until then instead of
    polling."""
    if not bucket_keys:
        return [], None
    kinds: dict[str, set[str]] = {}
    query = (
        select(Connection.bucket_key, DirtyMark.kind)
        .join(DirtyMark, DirtyMark.connection_id == Connection.id)
        .where(Connection.bucket_key.in_(bucket_keys))
        .distinct()
    )
    for bucket_key, kind in session.execute(query).all():
        kinds.setdefault(bucket_key, set()).add(kind)
    rows = {
        key: (state, not_before)
        for key, state, not_before in session.execute(
            select(BucketLease.bucket_key, BucketLease.limiter_state, BucketLease.not_before).where(
                BucketLease.bucket_key.in_(bucket_keys)
            )
        ).all()
    }
    moment = now.timestamp()
    ready, reopenings = [], []
    for key in bucket_keys:
        state, not_before = rows.get(key, ({}, None))
        blocked = blocked_until(state or {})
        opens = min((blocked.get(kind, moment) for kind in kinds.get(key, ())), default=None)
        if opens is None:
            continue
        if opens > moment:
            reopenings.append(opens)
            continue
        ready.append(key)
        if not_before is not None and not_before > now:  # backing off: the claim skips it
            reopenings.append(not_before.timestamp())
    earliest = min(reopenings, default=None)
    return ready, datetime.fromtimestamp(earliest, UTC) if earliest is not None else None

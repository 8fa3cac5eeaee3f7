"""Which buckets have work their budgets allow now, so a spent budget holds back only its kind.

A bucket's limiter state (saved with its lease) records, per kind of push, until when that
kind's budget is spent (``blocked_until``). A bucket is worth claiming when some kind with
dirty marks is not blocked: rates waiting for the restrictions window never hold back a
booking's availability, and a bucket whose only work is blocked is not claimed again and
again for nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from datetime import datetime
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


def ready_buckets(session: Session, bucket_keys: Sequence[str], now: datetime) -> list[str]:
    """The buckets among ``bucket_keys`` with dirty marks of a kind whose budget has room."""
    if not bucket_keys:
        return []
    kinds: dict[str, set[str]] = {}
    query = (
        select(Connection.bucket_key, DirtyMark.kind)
        .join(DirtyMark, DirtyMark.connection_id == Connection.id)
        .where(Connection.bucket_key.in_(bucket_keys))
        .distinct()
    )
    for bucket_key, kind in session.execute(query).all():
        kinds.setdefault(bucket_key, set()).add(kind)
    states = {
        key: state
        for key, state in session.execute(
            select(BucketLease.bucket_key, BucketLease.limiter_state).where(
                BucketLease.bucket_key.in_(bucket_keys)
            )
        ).all()
    }
    moment = now.timestamp()
    ready = []
    for key in bucket_keys:
        blocked = blocked_until(states.get(key) or {})
        if any(blocked.get(kind, moment) <= moment for kind in kinds.get(key, ())):
            ready.append(key)
    return ready

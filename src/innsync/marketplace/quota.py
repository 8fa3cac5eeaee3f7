"""The source connection's call quota, shared by ARI pulls, booking pushes and status checks.

The channel's limit (its ``ChannelLimits``: Octorate's 100 calls per 5 minutes per
accommodation) is kept with the shared sliding-window limiter, its state stored on the
property's ``AriSource`` row so that every worker and process spends from the same window.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from innsync.channels.types import ChannelLimits
from innsync.marketplace.models import AriSource
from innsync.sync.limiter import SlidingWindowLimiter


def take_call(source: AriSource, limits: ChannelLimits, now: datetime) -> float:
    """Spend one call at ``now``: 0 when granted, else the seconds until one would be.

    The caller holds the source row locked, so two workers never spend the same slot.
    """
    limiter = _limiter(source, limits)
    moment = now.timestamp()
    if limiter.try_acquire(moment):
        source.limiter_state = dict(limiter.to_state())
        return 0.0
    return max(limiter.wait_time(moment), 0.001)


def _limiter(source: AriSource, limits: ChannelLimits) -> SlidingWindowLimiter:
    state = source.limiter_state
    fresh = SlidingWindowLimiter.for_limits(limits)
    if not state:
        return fresh
    held = SlidingWindowLimiter.from_state(state)
    if (held.limit, held.window_seconds) != (fresh.limit, fresh.window_seconds):
        # The declared limit changed: the grants still count, within the new limit.
        grants = held.to_state()["grants"][-fresh.limit :]
        return SlidingWindowLimiter(fresh.limit, fresh.window_seconds, grants)
    return held


def wait_for_call(
    session: Session, connection_id: uuid.UUID, limits: ChannelLimits, now: datetime
) -> float:
    """Spend one call of the quota of the source ``connection_id`` is (0 when it is none)."""
    source = session.scalar(
        select(AriSource)
        .where(AriSource.connection_id == connection_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return take_call(source, limits, now) if source is not None else 0.0

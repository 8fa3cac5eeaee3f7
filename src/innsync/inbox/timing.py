"""What the inbound passes share: how they get adapters and time, and how long they wait."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from innsync.backoff import Backoff
from innsync.channels.contract import ChannelAdapter
from innsync.clock import Clock
from innsync.connections.models import Connection

__all__ = ["MAX_RETRY", "AdapterFactory", "Clock", "retry_delay"]

AdapterFactory = Callable[[Connection], ChannelAdapter]

# Retries never wait longer than this: a channel that is back is used again within minutes.
MAX_RETRY = timedelta(minutes=15)


def retry_delay(
    failures: int,
    first: timedelta,
    retry_after: float | None = None,
    cap: timedelta = MAX_RETRY,
) -> timedelta:
    """``first`` doubled for each failure after the first, at most ``cap``, and never sooner
    than the channel's own retry-after."""
    # No jitter: these are one connection's (or one item's) own retries, not a crowd's.
    backoff = Backoff(
        base_seconds=first.total_seconds(),
        cap_seconds=cap.total_seconds(),
        jitter_below=0.0,
    )
    return backoff.wait(max(failures, 1) - 1, retry_after)

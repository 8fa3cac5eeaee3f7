"""What the inbound passes share: how they get adapters and time, and how long they wait."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from innsync.backoff import Backoff
from innsync.channels.contract import ChannelAdapter
from innsync.clock import Clock
from innsync.connections.models import Connection

__all__ = ["ACK_LEASE", "LEASE", "MAX_RETRY", "AdapterFactory", "Clock", "retry_delay"]

AdapterFactory = Callable[[Connection], ChannelAdapter]

# How long a claimed inbox item is left to its processor past the last renewal; a processor
# that dies leaves its items to others after this.
LEASE = timedelta(seconds=15)
# An acknowledgement being sent is left to its sender this long before a retry pass takes it.
ACK_LEASE = timedelta(seconds=30)
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

"""What the inbound passes share: how they get adapters and time, and how long they wait."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from innsync.channels.contract import ChannelAdapter
from innsync.connections.models import Connection

AdapterFactory = Callable[[Connection], ChannelAdapter]
Clock = Callable[[], datetime]

# Retries never wait longer than this: a channel that is back is used again within minutes.
MAX_RETRY = timedelta(minutes=15)


def retry_delay(failures: int, first: timedelta, retry_after: float | None = None) -> timedelta:
    """``first`` doubled for each failure after the first, at most :data:`MAX_RETRY`, and never
    sooner than the channel's own retry-after."""
    delay = min(first * (1 << min(max(failures, 1) - 1, 20)), MAX_RETRY)
    if retry_after is not None:
        delay = max(delay, timedelta(seconds=retry_after))
    return delay

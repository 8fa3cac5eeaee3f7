"""Lanes: one pass's work spread over its connections, so one slow channel holds up only its
own connection's items.

Each group (one connection's items) runs in order in a lane of its own, and up to ``lanes``
groups run at once. Work that waits on a channel awaits; transactions never span an await, so
the event loop never interleaves two of them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TypeVar

ItemT = TypeVar("ItemT")


async def in_lanes(
    groups: Iterable[Sequence[ItemT]], work: Callable[[ItemT], Awaitable[None]], lanes: int
) -> None:
    """Run ``work`` on every item, each group's items one after another, ``lanes`` groups at
    once. Every group runs to its end; the first error (a database error, which the caller's
    loop retries) is raised after all have."""
    gate = asyncio.Semaphore(lanes)

    async def lane(items: Sequence[ItemT]) -> None:
        async with gate:
            for item in items:
                await work(item)

    outcomes = await asyncio.gather(*map(lane, groups), return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome

"""Lanes: each group in order, groups side by side, a slow group holding up only itself."""

from __future__ import annotations

import asyncio

import pytest

from innsync.inbox.lanes import in_lanes


def test_a_slow_group_holds_up_only_its_own_items() -> None:
    done: list[str] = []
    slow_go = asyncio.Event()

    async def work(item: str) -> None:
        if item == "slow-1":
            await slow_go.wait()
        done.append(item)
        if item == "fast-3":  # every other group finished while the slow one waited
            slow_go.set()

    groups = [["slow-1", "slow-2"], ["fast-1"], ["fast-2", "fast-3"]]
    asyncio.run(in_lanes(groups, work, lanes=8))
    assert done == ["fast-1", "fast-2", "fast-3", "slow-1", "slow-2"]


def test_no_more_groups_than_lanes_run_at_once() -> None:
    running, peak = 0, 0

    async def work(_item: int) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)
        running -= 1

    asyncio.run(in_lanes([[n] for n in range(10)], work, lanes=3))
    assert peak == 3


def test_an_error_is_raised_after_every_group_ran() -> None:
    done: list[int] = []

    async def work(item: int) -> None:
        if item == 0:
            raise RuntimeError("the database went away")
        await asyncio.sleep(0.01)
        done.append(item)

    with pytest.raises(RuntimeError, match="database went away"):
        asyncio.run(in_lanes([[0, 1], [2], [3]], work, lanes=2))
    assert sorted(done) == [2, 3]  # the failed group stops; the others run to their end

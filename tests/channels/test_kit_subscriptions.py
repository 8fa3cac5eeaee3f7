"""The channel kit's webhook-subscription diffing (``channels/subscriptions.py``)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from innsync.channels.subscriptions import SubscriptionPlan, plan_subscriptions

URL = "https://innsync.example/hooks/t1"


@dataclass(frozen=True)
class Hook:
    id: str
    url: str
    event: str
    secret: str
    is_active: bool = True


@dataclass(frozen=True)
class Wanted:
    url: str
    event: str
    secret: str


def _plan(wanted: list[Wanted], existing: list[Hook]) -> SubscriptionPlan[Wanted, Hook]:
    return plan_subscriptions(
        wanted,
        existing,
        wanted_key=lambda w: (w.url, w.event),
        existing_key=lambda h: (h.url, h.event),
        is_current=lambda h, w: h.secret == w.secret and h.is_active,
        is_ours=lambda h: h.url.startswith("https://innsync.example/"),
    )


def test_nothing_registered_creates_everything() -> None:
    wanted = [Wanted(URL, "booking", "s"), Wanted(URL, "sync_error", "s")]
    plan = _plan(wanted, [])
    assert plan.create == tuple(wanted)
    assert plan.update == plan.unchanged == plan.stale == ()
    assert plan.changes == 2


def test_drifted_hooks_are_updated_current_ones_left_alone() -> None:
    rotated = Hook("1", URL, "booking", "old")
    inactive = Hook("2", URL, "sync_error", "s", is_active=False)
    current = Hook("3", URL, "rate_error", "s")
    wanted = [Wanted(URL, e, "s") for e in ("booking", "sync_error", "rate_error", "new_channel")]
    plan = _plan(wanted, [rotated, inactive, current])
    assert plan.create == (wanted[3],)
    assert plan.update == ((rotated, wanted[0]), (inactive, wanted[1]))
    assert plan.unchanged == (current,)
    assert plan.stale == ()
    assert plan.changes == 3


def test_a_second_run_changes_nothing() -> None:
    wanted = [Wanted(URL, "booking", "s")]
    plan = _plan(wanted, [Hook("1", URL, "booking", "s")])
    assert plan.changes == 0
    assert plan.create == plan.update == ()


def test_duplicates_and_dropped_events_are_stale_others_hooks_are_not() -> None:
    kept = Hook("1", URL, "booking", "s")
    duplicate = Hook("2", URL, "booking", "s")
    dropped = Hook("3", URL, "ari", "s")
    foreign = Hook("4", "https://someone.else/hook", "booking", "x")
    plan = _plan([Wanted(URL, "booking", "s")], [kept, duplicate, dropped, foreign])
    assert plan.unchanged == (kept,)
    assert plan.stale == (duplicate, dropped)


def test_two_wanted_with_one_key_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="share the key"):
        _plan([Wanted(URL, "booking", "a"), Wanted(URL, "booking", "b")], [])

"""Webhook-subscription diffing: what to create, update or drop so a channel sends what is wanted.

Registering webhooks is idempotent in every adapter the same way: list what the channel holds,
match each wanted subscription to an existing one by a key (typically callback URL, property and
event), create the missing, update those whose settings drifted (a rotated secret header, a
deactivated hook) and leave the rest alone. Existing subscriptions of innsync's that nothing
wants any more (an event dropped, a duplicate) are reported as ``stale`` for channels that can
delete them. This module is pure: the adapter does the calls.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

WantedT = TypeVar("WantedT")
ExistingT = TypeVar("ExistingT")


@dataclass(frozen=True, slots=True)
class SubscriptionPlan(Generic[WantedT, ExistingT]):
    """The calls that bring a channel's subscriptions to what innsync wants."""

    create: tuple[WantedT, ...]
    update: tuple[tuple[ExistingT, WantedT], ...]
    unchanged: tuple[ExistingT, ...]
    stale: tuple[ExistingT, ...]

    @property
    def changes(self) -> int:
        """How many subscriptions the plan creates or updates (what registration reports)."""
        return len(self.create) + len(self.update)


def plan_subscriptions(
    wanted: Iterable[WantedT],
    existing: Iterable[ExistingT],
    *,
    wanted_key: Callable[[WantedT], Hashable],
    existing_key: Callable[[ExistingT], Hashable],
    is_current: Callable[[ExistingT, WantedT], bool],
    is_ours: Callable[[ExistingT], bool] = lambda _: True,
) -> SubscriptionPlan[WantedT, ExistingT]:
    """Match ``wanted`` to ``existing`` by key and say what to create, update or drop.

    The first existing subscription with a wanted key is kept (updated when ``is_current`` says
    it drifted); further ones with the same key are duplicates, hence stale. An existing
    subscription no wanted one matches is stale only when ``is_ours`` (the channel may hold
    other subscribers' hooks on the same account).
    """
    remaining = list(existing)
    create: list[WantedT] = []
    update: list[tuple[ExistingT, WantedT]] = []
    unchanged: list[ExistingT] = []
    seen_keys: set[Hashable] = set()
    for item in wanted:
        key = wanted_key(item)
        if key in seen_keys:
            raise ValueError(f"two wanted subscriptions share the key {key!r}")
        seen_keys.add(key)
        match = next((found for found in remaining if existing_key(found) == key), None)
        if match is None:
            create.append(item)
            continue
        remaining.remove(match)
        if is_current(match, item):
            unchanged.append(match)
        else:
            update.append((match, item))
    stale = tuple(found for found in remaining if is_ours(found))
    return SubscriptionPlan(tuple(create), tuple(update), tuple(unchanged), stale)

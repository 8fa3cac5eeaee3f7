"""Derived rate plans: a parent's price moved by ordered rules, restrictions optionally inherited.

Pure functions, so the resolution can be tested exhaustively and reused by the sync planner.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Literal

from innsync.money import round_money

RuleKind = Literal["percent", "amount"]

RESTRICTION_FIELDS = (
    "min_stay_arrival",
    "min_stay_through",
    "max_stay",
    "closed_to_arrival",
    "closed_to_departure",
    "stop_sell",
    "min_advance",
    "max_advance",
)


class DerivationCycleError(ValueError):
    """A rate plan would (indirectly) derive from itself."""


@dataclass(frozen=True, slots=True)
class DerivationRule:
    """Move a price by a percentage (``-10`` is 10 % off) or by an amount (``+15.00``)."""

    kind: RuleKind
    value: Decimal

    def apply(self, price: Decimal) -> Decimal:
        if self.kind == "percent":
            return price * (Decimal(100) + self.value) / Decimal(100)
        return price + self.value


@dataclass(frozen=True, slots=True)
class DayValues:
    """Everything a rate plan says about one stay date; ``None`` means not set."""

    price: Decimal | None = None
    occupancy_prices: tuple[tuple[int, Decimal], ...] | None = None
    min_stay_arrival: int | None = None
    min_stay_through: int | None = None
    max_stay: int | None = None
    closed_to_arrival: bool | None = None
    closed_to_departure: bool | None = None
    stop_sell: bool | None = None
    min_advance: int | None = None
    max_advance: int | None = None


def apply_rules(price: Decimal, rules: Sequence[DerivationRule], currency: str) -> Decimal:
    """Apply rules in order at full precision, round once at the end to the currency's minor
    units (none for JPY, three for BHD), never below zero."""
    for rule in rules:
        price = rule.apply(price)
    return max(round_money(price, currency), round_money(Decimal(0), currency))


def resolve_day(
    own: DayValues,
    parent: DayValues | None,
    rules: Sequence[DerivationRule],
    inherited: Iterable[str],
    currency: str,
) -> DayValues:
    """The effective values of a plan for one date, given its parent's effective values.

    A plan without a parent is its own values. A derived plan takes its prices from the parent
    through the rules and the inherited restrictions from the parent; the rest are its own.
    """
    if parent is None:
        return own
    derived_price = apply_rules(parent.price, rules, currency) if parent.price is not None else None
    derived_occupancy = (
        tuple(
            (occupancy, apply_rules(amount, rules, currency))
            for occupancy, amount in parent.occupancy_prices
        )
        if parent.occupancy_prices is not None
        else None
    )
    inherited_values = {name: getattr(parent, name) for name in inherited}
    return replace(own, price=derived_price, occupancy_prices=derived_occupancy, **inherited_values)


def check_no_cycle(plan_id: object, parent_id: object, parents: Mapping[object, object]) -> None:
    """Raise if making ``parent_id`` the parent of ``plan_id`` closes a loop.

    ``parents`` maps every plan of the property to its current parent (or None).
    """
    seen = {plan_id}
    current: object = parent_id
    while current is not None:
        if current in seen:
            raise DerivationCycleError("a rate plan cannot derive from itself, even indirectly")
        seen.add(current)
        current = parents.get(current)

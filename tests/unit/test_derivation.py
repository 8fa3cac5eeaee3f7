"""Derived-rate resolution: properties that hold for any rules and any chain of plans."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from innsync.properties.derivation import (
    RESTRICTION_FIELDS,
    DayValues,
    DerivationCycleError,
    DerivationRule,
    apply_rules,
    check_no_cycle,
    resolve_day,
)

prices = st.decimals(min_value=Decimal("0"), max_value=Decimal("100000"), places=2)
rules = st.lists(
    st.builds(
        DerivationRule,
        kind=st.sampled_from(["percent", "amount"]),
        value=st.decimals(min_value=Decimal("-90"), max_value=Decimal("200"), places=2),
    ),
    max_size=5,
)
day_values = st.builds(
    DayValues,
    price=st.none() | prices,
    occupancy_prices=st.none()
    | st.lists(
        st.tuples(st.integers(1, 6), prices), unique_by=lambda pair: pair[0], max_size=4
    ).map(lambda pairs: tuple(sorted(pairs))),
    min_stay_arrival=st.none() | st.integers(1, 30),
    min_stay_through=st.none() | st.integers(1, 30),
    max_stay=st.none() | st.integers(1, 30),
    closed_to_arrival=st.none() | st.booleans(),
    closed_to_departure=st.none() | st.booleans(),
    stop_sell=st.none() | st.booleans(),
    min_advance=st.none() | st.integers(0, 365),
    max_advance=st.none() | st.integers(0, 365),
)
inherited = st.sets(st.sampled_from(RESTRICTION_FIELDS))


@given(prices, rules)
def test_rules_round_once_to_cents_and_never_go_negative(
    price: Decimal, chain: list[DerivationRule]
) -> None:
    result = apply_rules(price, chain, "EUR")
    exact = price
    for rule in chain:
        exact = exact * (100 + rule.value) / 100 if rule.kind == "percent" else exact + rule.value
    assert result == max(exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP), Decimal("0.00"))
    assert result.as_tuple().exponent == -2


@given(day_values)
def test_a_plan_without_parent_is_its_own_values(own: DayValues) -> None:
    assert resolve_day(own, None, [], RESTRICTION_FIELDS, "EUR") == own


@given(day_values, day_values, rules, inherited)
def test_derived_values_take_prices_from_parent_and_only_inherited_restrictions(
    own: DayValues, parent: DayValues, chain: list[DerivationRule], names: set[str]
) -> None:
    resolved = resolve_day(own, parent, chain, names, "EUR")
    assert resolved.price == (
        apply_rules(parent.price, chain, "EUR") if parent.price is not None else None
    )
    if parent.occupancy_prices is None:
        assert resolved.occupancy_prices is None
    else:
        assert resolved.occupancy_prices == tuple(
            (occupancy, apply_rules(amount, chain, "EUR"))
            for occupancy, amount in parent.occupancy_prices
        )
    for name in RESTRICTION_FIELDS:
        expected = getattr(parent if name in names else own, name)
        assert getattr(resolved, name) == expected


@given(day_values, day_values, rules, rules)
def test_a_grandchild_applies_both_rule_lists_in_order(
    root: DayValues, leaf: DayValues, first: list[DerivationRule], second: list[DerivationRule]
) -> None:
    middle = resolve_day(DayValues(), root, first, [], "EUR")
    resolved = resolve_day(leaf, middle, second, [], "EUR")
    if root.price is None:
        assert resolved.price is None
    else:
        assert resolved.price == apply_rules(apply_rules(root.price, first, "EUR"), second, "EUR")


@given(st.integers(2, 8))
def test_any_loop_in_a_chain_is_refused(length: int) -> None:
    # Plans 0 -> 1 -> ... -> length-1 (each derives from the next); closing the loop must fail.
    parents: dict[object, object] = {index: index + 1 for index in range(length - 1)}
    parents[length - 1] = None
    with pytest.raises(DerivationCycleError):
        check_no_cycle(length - 1, 0, parents)
    check_no_cycle(length - 1, "elsewhere", parents)  # an unrelated parent is fine

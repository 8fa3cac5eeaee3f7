"""Currency data from CLDR: minor units and rounding per currency."""

from __future__ import annotations

from decimal import Decimal

import pytest

from innsync.money import is_currency, is_exact, minor_units, round_money


@pytest.mark.parametrize(
    ("currency", "places", "amount", "rounded"),
    [
        ("JPY", 0, "1110.5", "1111"),
        ("KRW", 0, "49999.49", "49999"),
        ("EUR", 2, "10.005", "10.01"),
        ("BHD", 3, "11.1105", "11.111"),
        ("KWD", 3, "0.0004", "0.000"),
    ],
)
def test_amounts_round_half_up_to_the_currency_s_minor_units(
    currency: str, places: int, amount: str, rounded: str
) -> None:
    assert minor_units(currency) == places
    result = round_money(Decimal(amount), currency)
    assert str(result) == rounded
    assert is_exact(result, currency)
    assert not is_exact(Decimal(amount), currency)


def test_only_legal_tender_is_a_currency() -> None:
    assert all(is_currency(code) for code in ("EUR", "JPY", "BHD", "XOF", "INR"))
    assert not any(is_currency(code) for code in ("XAU", "DEM", "eur", "ZZZ"))

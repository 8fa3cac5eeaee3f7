"""Currencies (ISO 4217) and rounding of amounts to each currency's own minor units.

The data come from the Unicode CLDR through Babel, which is maintained with every ISO 4217
amendment; no list is kept by hand here.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from functools import cache

from babel.core import get_global
from babel.numbers import get_currency_precision

# The largest amount a money column (13 digits, 3 decimals) stores.
MAX_AMOUNT = Decimal("9999999999.99")
# The most minor units any currency has (BHD, KWD, OMR, JOD…): the money columns' scale.
MAX_MINOR_UNITS = 3


@cache
def _legal_tender() -> frozenset[str]:
    """Codes that are legal tender somewhere today. Funds, precious metals and withdrawn
    currencies (DEM, XAU…) are left out on purpose: no hotel sells a night in XAU."""
    territories = get_global("territory_currencies")
    return frozenset(
        code
        for currencies in territories.values()
        for code, _start, end, is_tender in currencies
        if end is None and is_tender
    )


def is_currency(code: str) -> bool:
    return code in _legal_tender()


@cache
def minor_units(currency: str) -> int:
    """Decimals the currency is priced in: 0 for JPY and KRW, 2 for EUR, 3 for BHD and KWD."""
    return min(get_currency_precision(currency), MAX_MINOR_UNITS)


@cache
def quantum(currency: str) -> Decimal:
    """The currency's smallest unit: ``1`` for JPY, ``0.01`` for EUR, ``0.001`` for BHD."""
    return Decimal(1).scaleb(-minor_units(currency))


def round_money(amount: Decimal, currency: str) -> Decimal:
    """To the currency's minor units, half up, as hotels and channels round."""
    return amount.quantize(quantum(currency), rounding=ROUND_HALF_UP)


def is_exact(amount: Decimal, currency: str) -> bool:
    """True when the amount needs no more decimals than the currency has."""
    return amount == amount.quantize(quantum(currency), rounding=ROUND_HALF_UP)


def precision_problem(currency: str) -> str:
    """What to tell a client that sent an amount finer than the currency allows."""
    places = minor_units(currency)
    return (
        f"{currency} amounts have {places} decimal places"
        if places
        else (f"{currency} has no minor units: whole amounts only")
    )

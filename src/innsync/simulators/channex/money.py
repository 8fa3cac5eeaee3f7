"""Channex's two rate formats (§1.5): decimal strings and integers in minor units."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
# A decimal string with at most two decimals; more precision than a currency's minor unit is
# refused rather than silently rounded, so a client's rounding bug shows.
_DECIMAL_STRING = re.compile(r"^\d+(\.\d{1,2})?$")


def parse_amount(value: object) -> Decimal | None:
    """The amount a rate field means, or None when the value is in neither documented format."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        # §1.5: "20000 means 200.00"; every simulated currency has two decimals.
        return (Decimal(value) / 100).quantize(CENT)
    if isinstance(value, str) and _DECIMAL_STRING.match(value):
        return Decimal(value).quantize(CENT)
    return None


def format_amount(amount: Decimal) -> str:
    """An amount as Channex returns it: a decimal string with two places (§1.5 reads)."""
    return str(amount.quantize(CENT, rounding=ROUND_HALF_UP))

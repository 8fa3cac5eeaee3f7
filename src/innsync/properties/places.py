"""Checks of a property's address and contact fields: country codes, coordinates, e-mail.

Country codes come from the Unicode CLDR through Babel (as currencies do in ``innsync.money``),
so no list is kept by hand here.
"""

from __future__ import annotations

import re
from decimal import Decimal
from functools import cache

from babel.core import get_global

# CLDR territories that are not ISO 3166 countries: unknown region, the EU and the eurozone.
# XK (Kosovo) stays: it is user-assigned in ISO 3166 but what OTAs and CLDR use.
NOT_COUNTRIES = frozenset(("ZZ", "EU", "EZ", "UN", "QO"))
# A coordinate as a decimal string: "45.4642", "-9.19"; at most 7 decimals (about 1 cm).
_COORDINATE = re.compile(r"^-?\d{1,3}(\.\d{1,7})?$")
# Enough to catch typos (no @, spaces, no domain); deliverability is not checked.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@cache
def _countries() -> frozenset[str]:
    territories = get_global("territory_currencies")
    return (
        frozenset(code for code in territories if len(code) == 2 and code.isalpha()) - NOT_COUNTRIES
    )


def check_country(value: str) -> str:
    if value not in _countries():
        raise ValueError(f"'{value}' is not an ISO 3166 alpha-2 country code such as 'IT'")
    return value


def check_coordinate(value: str, limit: int) -> str:
    """A latitude (``limit`` 90) or longitude (180) in decimal degrees, kept as given."""
    if not _COORDINATE.match(value):
        raise ValueError(f"'{value}' is not a decimal string such as '45.4642'")
    if abs(Decimal(value)) > limit:
        raise ValueError(f"'{value}' is outside -{limit}..{limit}")
    return value


def check_email(value: str) -> str:
    if not _EMAIL.match(value):
        raise ValueError(f"'{value}' is not an e-mail address")
    return value

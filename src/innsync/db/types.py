"""Column types that behave the same on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import DateTime, Dialect, Numeric
from sqlalchemy.dialects import mysql
from sqlalchemy.types import TypeDecorator

from innsync.money import MAX_MINOR_UNITS

CENT = Decimal("0.01")


class Money(TypeDecorator[Decimal]):
    """Amounts already rounded to their currency's minor units (``innsync.money``), stored with
    three decimals so BHD and KWD are exact; nothing is rounded here.

    Read back, an amount keeps its third decimal only when it has one (``12.345``) and shows two
    otherwise (``120.00``, ``1200.00``), as amounts always read.
    """

    impl = Numeric(13, MAX_MINOR_UNITS, asdecimal=True)
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        amount = Decimal(value)
        two_places = amount.quantize(CENT)
        return two_places if two_places == amount else amount


MONEY = Money()


class UtcDateTime(TypeDecorator[datetime]):
    """Timestamps stored as naive UTC and always returned timezone-aware.

    SQLite and MariaDB keep no offset; storing UTC and re-attaching it on read keeps
    comparisons correct everywhere. Naive input is refused: it is always a bug.
    """

    # MariaDB keeps whole seconds unless told otherwise; leases and feeds want microseconds.
    impl = DateTime(timezone=False).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # SQLite may hand back text for computed expressions
            value = datetime.fromisoformat(value)
        if not isinstance(value, datetime):
            raise TypeError(f"unexpected timestamp value {value!r}")
        return value.replace(tzinfo=UTC)

"""The logical format inside a backup: tables as NDJSON, values in portable JSON forms.

The decrypted stream is UTF-8 lines. A line starting with ``{`` is a record:
``{"kind": "begin", ...}`` once, then per table ``{"kind": "table", "name", "columns",
"primary_key"}``, its rows, and ``{"kind": "end_table", "name", "rows", "checksum"}``, and at
last ``{"kind": "end", "tables": [...]}``. A line starting with ``[`` is one row: the values of
the table's columns in order, encoded by the column's portable type
(``tag_of``: uuid, string, text, utc_datetime, integer, bigint, boolean, date, json, money,
binary).

A table's checksum is the sum, modulo 2**256, of the SHA-256 of each row's canonical line. A sum
does not depend on row order, so the same rows give the same checksum on SQLite, PostgreSQL and
MariaDB, whose collations order text keys differently.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    Uuid,
)
from sqlalchemy.types import TypeEngine

from innsync.db.personal import EncryptedBytes, EncryptedJSON, EncryptedText
from innsync.db.types import Money, UtcDateTime

FORMAT_VERSION = 1
CHECKSUM_MODULUS = 2**256


def _type_of(tag: str) -> TypeEngine[Any]:
    types: dict[str, TypeEngine[Any]] = {
        "uuid": Uuid(),
        "string": String(),
        "text": Text(),
        "utc_datetime": UtcDateTime(),
        "integer": Integer(),
        "bigint": BigInteger(),
        "boolean": Boolean(),
        "date": Date(),
        "json": JSON(),
        "money": Money(),
        "binary": LargeBinary(),
    }
    try:
        return types[tag]
    except KeyError:
        raise ValueError(f"unknown column type {tag!r} in backup") from None


def tag_of(column_type: TypeEngine[Any]) -> str:
    """The portable type of a model column; subclasses are checked before their bases."""
    checks: list[tuple[type[TypeEngine[Any]], str]] = [
        (UtcDateTime, "utc_datetime"),
        (Money, "money"),
        # Personal data is copied as stored, encrypted: a backup holds none in clear, and it
        # restores under the same secret keys (as connection credentials do).
        (EncryptedText, "text"),
        (EncryptedJSON, "text"),
        (EncryptedBytes, "binary"),
        (Uuid, "uuid"),
        (BigInteger, "bigint"),
        (Integer, "integer"),
        (Boolean, "boolean"),
        (Date, "date"),
        (JSON, "json"),
        (LargeBinary, "binary"),
        (Text, "text"),
        (String, "string"),
    ]
    for kind, tag in checks:
        if isinstance(column_type, kind):
            return tag
    raise ValueError(f"no backup encoding for column type {column_type!r}")


@dataclass(frozen=True)
class TableSpec:
    """A table as a backup records it: its columns with portable types, and its key."""

    name: str
    columns: tuple[tuple[str, str], ...]
    primary_key: tuple[str, ...]

    @classmethod
    def of(cls, table: Table) -> TableSpec:
        return cls(
            name=table.name,
            columns=tuple((column.name, tag_of(column.type)) for column in table.columns),
            primary_key=tuple(column.name for column in table.primary_key.columns),
        )

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> TableSpec:
        return cls(
            name=str(record["name"]),
            columns=tuple((str(name), str(tag)) for name, tag in record["columns"]),
            primary_key=tuple(str(name) for name in record["primary_key"]),
        )

    def record(self) -> dict[str, Any]:
        return {
            "kind": "table",
            "name": self.name,
            "columns": [list(column) for column in self.columns],
            "primary_key": list(self.primary_key),
        }

    def table(self) -> Table:
        """A bare table for reading and loading: the column types only, no defaults, no
        ``onupdate`` (a restore writes the stored values, never new ones)."""
        return Table(
            self.name,
            MetaData(),
            *(
                Column(name, _type_of(tag), primary_key=name in self.primary_key)
                for name, tag in self.columns
            ),
        )


def encode_value(tag: str, value: Any) -> Any:
    if value is None:
        return None
    if tag == "uuid":
        return str(value)
    if tag in ("utc_datetime", "date"):
        return value.isoformat()
    if tag == "money":
        return str(value)
    if tag == "binary":
        return base64.b64encode(bytes(value)).decode()
    return value


def decode_value(tag: str, value: Any) -> Any:
    if value is None:
        return None
    if tag == "uuid":
        return uuid.UUID(value)
    if tag == "utc_datetime":
        return datetime.fromisoformat(value)
    if tag == "date":
        return date.fromisoformat(value)
    if tag == "money":
        return Decimal(value)
    if tag == "binary":
        return base64.b64decode(value)
    return value


def canonical(data: Any) -> bytes:
    """One spelling of a value, so equal rows give equal bytes on every database."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


class TableChecksum:
    """Row count and order-independent checksum of one table's rows."""

    def __init__(self) -> None:
        self.rows = 0
        self._sum = 0

    def add(self, line: bytes) -> None:
        self.rows += 1
        digest = int.from_bytes(hashlib.sha256(line).digest(), "big")
        self._sum = (self._sum + digest) % CHECKSUM_MODULUS

    @property
    def hexdigest(self) -> str:
        return f"{self._sum:064x}"


def encode_row(spec: TableSpec, row: Any) -> bytes:
    return canonical(
        [encode_value(tag, value) for (_, tag), value in zip(spec.columns, row, strict=True)]
    )


def decode_row(spec: TableSpec, values: list[Any]) -> dict[str, Any]:
    if len(values) != len(spec.columns):
        raise ValueError(f"a row of {spec.name} has {len(values)} values, not {len(spec.columns)}")
    return {
        name: decode_value(tag, value)
        for (name, tag), value in zip(spec.columns, values, strict=True)
    }

"""Insert-if-new of many rows on the driver's cursor: the webhook inbox's group commit.

Each webhook's row passes here, thousands a second, so the statement is built once per table
and database and executed on the DBAPI cursor inside the session's transaction; values go
through the columns' own bind processors (encryption, JSON, UUIDs), exactly as SQLAlchemy would
bind them. Through SQLAlchemy's execution (a multi-row ``VALUES`` with ``RETURNING``, its text
new for every batch size, and the per-row parameter handling around it) the same inserts cost
about twice the CPU (``docs/benchmarks.md``, webhook_ingest).

- SQLite: one ``INSERT … ON CONFLICT DO NOTHING`` per row, prepared once by sqlite3; the row
  count says whether the row went in.
- PostgreSQL: one statement with one array per column, unnested (``upsert.unnested_insert``),
  returning the keys it stored: its text is the same for any number of rows.

Driver errors are raised as SQLAlchemy's (``DBAPIError`` and its kinds), parameters hidden, so
callers tell a busy database from a broken row as they do elsewhere (``db.busy``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Dialect, Table, bindparam
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import DBAPIError

from innsync.db.upsert import unnested_insert

DIALECTS = ("sqlite", "postgresql")
Binder = Callable[[Any], Any]


def insert_if_new(
    connection: Connection,
    table: Table,
    names: tuple[str, ...],
    keys: tuple[str, ...],
    rows: Sequence[Mapping[str, Any]],
) -> list[bool]:
    """Insert each row (its ``names``) unless a row with its unique ``keys`` exists; for each,
    whether it was stored (of rows given with the same keys, the first is). SQLite and
    PostgreSQL only (``DIALECTS``)."""
    statement = insert_statement(table, names, keys, connection.dialect)
    return statement.execute(connection, [statement.bind(row) for row in rows])


@dataclass(frozen=True, slots=True)
class BoundRow:
    """A row's parameters as the driver takes them, and the values of its unique key."""

    parameters: tuple[Any, ...]
    key: tuple[Any, ...]


class InsertIfNew:
    """``insert_if_new`` in two steps, for callers that bind rows before their transaction.

    Binding (encryption, JSON, UUIDs) is most of a row's CPU; a caller that does it ahead of
    ``BEGIN`` holds the write lock only while the driver runs the statement (the webhook group
    commit binds each row as its request arrives).
    """

    def __init__(
        self, table: Table, names: tuple[str, ...], keys: tuple[str, ...], dialect: Dialect
    ) -> None:
        self.dialect = dialect
        self._keys = keys
        self._sql, self._binders = _statement(table, names, keys, dialect)

    def bind(self, row: Mapping[str, Any]) -> BoundRow:
        """The row's parameters, bound by its columns' own processors as SQLAlchemy would."""
        return BoundRow(
            tuple([bind(row[name]) for name, bind in self._binders]),
            tuple([row[name] for name in self._keys]),
        )

    def execute(self, connection: Connection, rows: Sequence[BoundRow]) -> list[bool]:
        """Insert the bound rows in order on ``connection`` (of this statement's dialect); for
        each, whether it was stored."""
        if not rows:
            return []
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            with _as_sqlalchemy_errors(self._sql, self.dialect):
                if self.dialect.name == "sqlite":
                    stored = []
                    for row in rows:
                        cursor.execute(self._sql, row.parameters)
                        stored.append(cursor.rowcount == 1)
                    return stored
                columns = {
                    name: [row.parameters[at] for row in rows]
                    for at, (name, _) in enumerate(self._binders)
                }
                cursor.execute(self._sql, columns)
                taken = {tuple(returned) for returned in cursor.fetchall()}
        finally:
            cursor.close()
        stored = []
        for row in rows:
            stored.append(row.key in taken)
            taken.discard(row.key)  # a later row with the same keys was not the one inserted
        return stored


# Keyed by the dialect object: bind processors read the engine's own settings (its JSON
# serializer), and they hold the dialect. Bounded: a process that makes engine after engine
# (the test suite) keeps only the latest, not every dialect it ever made.
@lru_cache(maxsize=32)
def insert_statement(
    table: Table, names: tuple[str, ...], keys: tuple[str, ...], dialect: Dialect
) -> InsertIfNew:
    """The statement inserting ``names`` into ``table`` unless ``keys`` are taken, built once
    per dialect. SQLite and PostgreSQL only (``DIALECTS``)."""
    return InsertIfNew(table, names, keys, dialect)


def _statement(
    table: Table, names: tuple[str, ...], keys: tuple[str, ...], dialect: Dialect
) -> tuple[str, list[tuple[str, Binder]]]:
    """The statement's text for the driver, and each named column's bind processor."""
    # Python-side defaults are SQLAlchemy's to fill in; on the driver's cursor nobody would.
    unfilled = [
        column.name
        for column in table.c
        if column.default is not None and column.name not in names and not column.primary_key
    ]
    if unfilled:
        raise ValueError(f"insert_if_new into {table.name} must be given {', '.join(unfilled)}")
    binders: list[tuple[str, Binder]] = []
    for name in names:
        column_type = table.c[name].type
        process = column_type.dialect_impl(dialect).bind_processor(dialect)
        binders.append((name, process or _same))
    if dialect.name == "sqlite":
        compiled = (
            sqlite.insert(table)
            .values({name: bindparam(name) for name in names})
            .on_conflict_do_nothing(index_elements=list(keys))
            .compile(dialect=dialect)
        )
        # Positional (``?``): the binders in the order of the statement's parameters.
        by_name = dict(binders)
        return str(compiled), [(name, by_name[name]) for name in compiled.positiontup or ()]
    if dialect.name != "postgresql":
        raise ValueError(f"insert_if_new supports {', '.join(DIALECTS)}, not {dialect.name}")
    statement = (
        unnested_insert(table, names)
        .on_conflict_do_nothing(index_elements=list(keys))
        .returning(*(table.c[name] for name in keys))
    )
    return str(statement.compile(dialect=dialect)), binders


def _same(value: Any) -> Any:
    return value


@contextmanager
def _as_sqlalchemy_errors(sql: str, dialect: Dialect) -> Iterator[None]:
    error = dialect.loaded_dbapi.Error
    try:
        yield
    except error as exc:
        raise DBAPIError.instance(
            sql, None, exc, error, hide_parameters=True, dialect=dialect
        ) from exc

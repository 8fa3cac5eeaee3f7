"""Set-based upserts that read the same on SQLite, PostgreSQL and MariaDB.

One statement per batch of rows (``INSERT … ON CONFLICT DO UPDATE`` on SQLite and PostgreSQL,
``INSERT … ON DUPLICATE KEY UPDATE`` on MariaDB) instead of one ORM object per row: the
per-row Python cost of the unit of work is what made day-by-day writes slow.

On PostgreSQL a batch is one statement with one array parameter per column, unnested
(``unnested_insert``). Executed once per row, psycopg sent and read protocol messages for every
row (its pipeline was 15-20 % of a syncing worker's samples); a multi-row ``VALUES`` grows its
text with the batch, and psycopg parses such long statements anew on every call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from sqlalchemy import Table, bindparam, func, select
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Insert

# Rows per executemany: bounds the memory of one batch; larger gains nothing measurable.
UPSERT_BATCH = 5000


def dialect_insert(session: Session, table: Table) -> Insert:
    """The INSERT construct of the session's database, which knows its upsert clause."""
    name = session.get_bind().dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    if name in {"mysql", "mariadb"}:
        return mysql.insert(table)
    return sqlite.insert(table)


def upsert_clause(insert: Insert, keys: Sequence[str], columns: Sequence[str]) -> Insert:
    """``insert`` that, where a row with the same ``keys`` exists, sets ``columns`` instead."""
    if isinstance(insert, mysql.Insert):
        return insert.on_duplicate_key_update({name: insert.inserted[name] for name in columns})
    if isinstance(insert, postgresql.Insert | sqlite.Insert):
        return insert.on_conflict_do_update(
            index_elements=list(keys), set_={name: insert.excluded[name] for name in columns}
        )
    raise TypeError(f"no upsert for {type(insert).__name__}")


def upsert_rows(
    session: Session,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    keys: Sequence[str],
    columns: Sequence[str],
) -> None:
    """Insert ``rows``, or update ``columns`` of those whose ``keys`` already exist; of rows
    sharing keys, the last one given is what stays. Every row names the same columns."""
    if not rows:
        return
    if session.get_bind().dialect.name == "postgresql":
        names = tuple(rows[0])
        unnested = _unnested_upsert(table, names, tuple(keys), tuple(columns))
        for start in range(0, len(rows), UPSERT_BATCH):
            # One statement may not update a row twice: only the last of equal keys goes in.
            batch = {
                tuple(row[key] for key in keys): row for row in rows[start : start + UPSERT_BATCH]
            }
            session.execute(
                unnested, {name: [row[name] for row in batch.values()] for name in names}
            )
        return
    statement = upsert_clause(dialect_insert(session, table), keys, columns)
    for start in range(0, len(rows), UPSERT_BATCH):
        session.execute(statement, list(rows[start : start + UPSERT_BATCH]))


def unnested_insert(table: Table, names: Sequence[str]) -> postgresql.Insert:
    """PostgreSQL's ``INSERT INTO table (names) SELECT … FROM unnest(<one array per name>)``:
    executed with a list of values per name, it inserts them as rows, and its text is the same
    for any number of rows. Columns not named take their defaults, as in a plain ``INSERT``."""
    arrays = [bindparam(name, type_=postgresql.ARRAY(table.c[name].type)) for name in names]
    given = func.unnest(*arrays).table_valued(*names).render_derived("given")
    return postgresql.insert(table).from_select(
        list(names), select(*(given.c[name] for name in names))
    )


@cache
def _unnested_upsert(
    table: Table, names: tuple[str, ...], keys: tuple[str, ...], columns: tuple[str, ...]
) -> Insert:
    return upsert_clause(unnested_insert(table, names), keys, columns)

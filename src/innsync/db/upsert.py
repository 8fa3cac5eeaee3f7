"""Set-based upserts that read the same on SQLite, PostgreSQL and MariaDB.

One statement per batch of rows (``INSERT … ON CONFLICT DO UPDATE`` on SQLite and PostgreSQL,
``INSERT … ON DUPLICATE KEY UPDATE`` on MariaDB) instead of one ORM object per row: the
per-row Python cost of the unit of work is what made day-by-day writes slow.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table
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
    """Insert ``rows``, or update ``columns`` of those whose ``keys`` already exist."""
    if not rows:
        return
    statement = upsert_clause(dialect_insert(session, table), keys, columns)
    for start in range(0, len(rows), UPSERT_BATCH):
        session.execute(statement, list(rows[start : start + UPSERT_BATCH]))

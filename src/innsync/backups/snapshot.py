"""A consistent, read-only view of a live database, taken without stopping innsync.

- SQLite: the online backup API copies the database to a temporary file in one step (under WAL a
  reader, so writers go on), and the dump reads the copy.
- PostgreSQL: one SERIALIZABLE READ ONLY DEFERRABLE transaction, which waits for a snapshot that
  can never see a serialization anomaly and then reads without taking locks.
- MariaDB/MySQL: START TRANSACTION WITH CONSISTENT SNAPSHOT under REPEATABLE READ.

Every table is read inside that one view, so a backup taken during a booking storm holds each
reservation together with its ledger rows, or neither.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine

from innsync.db.engine import READ_ONLY, build_engine


@contextmanager
def consistent_snapshot(
    engine: Engine, scratch_dir: Path | None = None, before: Callable[[], None] = lambda: None
) -> Iterator[Connection]:
    """A connection that sees one point in time of ``engine``'s database until the block ends.

    ``before`` runs once the connection is checked out, just before a MariaDB snapshot starts
    (a native dump holds writers off there)."""
    dialect = engine.dialect.name
    if dialect == "sqlite":
        with _sqlite_copy(engine, scratch_dir) as connection:
            yield connection
    elif dialect == "postgresql":
        with (
            engine.connect().execution_options(
                isolation_level="SERIALIZABLE",
                postgresql_readonly=True,
                postgresql_deferrable=True,
            ) as connection,
            connection.begin(),
        ):
            yield connection
    elif dialect in ("mysql", "mariadb"):
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as connection:
            before()
            connection.exec_driver_sql("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
            try:
                yield connection
            finally:
                connection.rollback()
    else:
        raise ValueError(f"backups do not support the {dialect} database")


@contextmanager
def _sqlite_copy(engine: Engine, scratch_dir: Path | None) -> Iterator[Connection]:
    with tempfile.TemporaryDirectory(prefix="innsync-backup-", dir=scratch_dir) as folder:
        copy_path = Path(folder) / "snapshot.sqlite3"
        source = engine.raw_connection()
        try:
            target = sqlite3.connect(copy_path)
            try:
                # pages=-1: the whole database in one step, so the copy is one point in time.
                source.driver_connection.backup(target, pages=-1)  # type: ignore[union-attr]
            finally:
                target.close()
        finally:
            source.close()
        copy = build_engine(f"sqlite:///{copy_path}")
        try:
            with (
                copy.connect().execution_options(**{READ_ONLY: True}) as connection,
                connection.begin(),
            ):
                yield connection
        finally:
            copy.dispose()

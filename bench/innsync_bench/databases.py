"""Databases a benchmark owns: a fresh SQLite file or a private PostgreSQL database, migrated."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.pool import NullPool

from innsync.db.engine import build_engine, normalize_url
from innsync.db.migrate import upgrade


@contextmanager
def sqlite_database(workdir: Path, name: str) -> Iterator[tuple[str, Engine]]:
    """A new SQLite file in ``workdir``, migrated; yields its URL and an engine."""
    path = workdir / f"{name}-{uuid.uuid4().hex[:8]}.sqlite3"
    url = f"sqlite:///{path}"
    engine = build_engine(url)
    upgrade(engine)
    try:
        yield url, engine
    finally:
        engine.dispose()


@contextmanager
def postgres_database(server: str, name: str) -> Iterator[tuple[str, Engine]]:
    """A private database ``bench_<name>_<random>`` on ``server``, dropped at the end.

    Never the shared ``test`` database: other test runs drop its schema.
    """
    database = f"bench_{name}_{uuid.uuid4().hex[:8]}"
    # The admin engine keeps no pooled connection, so the drop works after a server restart
    # (the chaos run restarts PostgreSQL half-way).
    admin = create_engine(
        normalize_url(f"{server}/postgres"), isolation_level="AUTOCOMMIT", poolclass=NullPool
    )
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{database}"'))
    url = f"{server}/{database}"
    engine = build_engine(url)
    try:
        upgrade(engine)
        yield url, engine
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()


def autovacuum_on(engine: Engine) -> bool:
    """Does the server run autovacuum (which also keeps the planner's statistics)?"""
    with engine.connect() as connection:
        return str(connection.execute(text("SHOW autovacuum")).scalar_one()) == "on"


def analyze(engine: Engine, *tables: str) -> None:
    """``ANALYZE`` ``tables`` (all of the database's when none are named): what autovacuum
    does after a table's rows change by a tenth, for a server where it is off."""
    with engine.connect() as connection:
        connection.execute(text(f"ANALYZE {', '.join(tables)}"))
        connection.commit()


def vacuum(engine: Engine, *tables: str) -> None:
    """``VACUUM (ANALYZE)`` ``tables``: what autovacuum does, once a minute at most, to a table
    whose deleted rows pile up, for a server where it is off. Outside a transaction, as
    PostgreSQL requires."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f"VACUUM (ANALYZE) {', '.join(tables)}"))


def postgres_version(engine: Engine) -> str:
    with engine.connect() as connection:
        version = connection.execute(text("SHOW server_version")).scalar_one()
    return str(version).split()[0]

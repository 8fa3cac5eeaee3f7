"""Which real databases the suite runs on, and how to reach and reset them.

``INNSYNC_TEST_DATABASES`` names the backends (default: all three). When a server is down the
suite skips its backend and says so, unless ``INNSYNC_TEST_REQUIRE_DATABASES=1`` (CI), where a
backend that cannot run fails the run instead. Under pytest-xdist each worker uses a database of
its own on the same server (``test_gw0``, ``test_gw1``…).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, MetaData, inspect, make_url, text
from sqlalchemy.exc import SQLAlchemyError

from innsync.db.engine import build_engine
from innsync.db.migrate import upgrade

ALL_BACKENDS = ("sqlite", "postgresql", "mariadb")
DEFAULT_URLS = {
    "postgresql": "postgresql://postgres@127.0.0.1:5432/test",
    "mariadb": "mysql://root@127.0.0.1:3306/test",
}


@dataclass(frozen=True)
class Backend:
    name: str
    url: str


def wanted_backends() -> list[str]:
    names = os.environ.get("INNSYNC_TEST_DATABASES", ",".join(ALL_BACKENDS))
    return [name.strip() for name in names.split(",") if name.strip()]


def databases_required() -> bool:
    return os.environ.get("INNSYNC_TEST_REQUIRE_DATABASES", "") in {"1", "true", "yes"}


def backend_url(name: str) -> str:
    if name == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="innsync-test-"))
        return f"sqlite:///{folder / 'test.sqlite3'}"
    return os.environ.get(f"INNSYNC_TEST_{name.upper()}_URL", DEFAULT_URLS[name])


def xdist_worker() -> str | None:
    """``gw0``, ``gw1``… when pytest-xdist runs this process as one of several workers."""
    return os.environ.get("PYTEST_XDIST_WORKER")


def worker_database(url: str, worker: str) -> str:
    """A database of the worker's own beside the configured one (``test`` -> ``test_gw0``),
    created when missing: workers reset their schema at start and must not share one."""
    configured = make_url(url)
    name = f"{configured.database}_{worker}"
    engine = build_engine(url, pool_pre_ping=False)
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            if engine.dialect.name == "postgresql":
                exists = connection.execute(
                    text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
                ).first()
                if exists is None:
                    connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
            else:
                connection.exec_driver_sql(f"CREATE DATABASE IF NOT EXISTS `{name}`")
    finally:
        engine.dispose()
    return configured.set(database=name).render_as_string(hide_password=False)


def probe(url: str) -> str | None:
    """None when the database answers, else why not."""
    engine = (
        build_engine(url, pool_pre_ping=False)
        if not url.startswith("sqlite")
        else build_engine(url)
    )
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        return f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
    finally:
        engine.dispose()
    return None


def fresh_schema(url: str) -> Engine:
    """An engine on a database emptied of everything and migrated to the newest schema."""
    engine = build_engine(url)
    existing = MetaData()
    existing.reflect(engine)
    with engine.begin() as connection:
        if engine.dialect.name == "mysql":
            connection.exec_driver_sql("SET FOREIGN_KEY_CHECKS=0")
        existing.drop_all(connection)
        if engine.dialect.name == "mysql":
            connection.exec_driver_sql("SET FOREIGN_KEY_CHECKS=1")
    upgrade(engine)
    return engine


def truncate_all(engine: Engine) -> None:
    """Delete every row, children first; used after tests that had to really commit."""
    from innsync.schema import metadata

    with engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            connection.execute(table.delete())


def table_names(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def missing(reason: str) -> None:
    """Something a test needs is not on this machine: a skip, except where the run requires
    every database and its tools (CI), where that is a failure."""
    import pytest

    if databases_required():
        pytest.fail(f"{reason} (INNSYNC_TEST_REQUIRE_DATABASES=1 requires it)")
    pytest.skip(reason)


def postgres_server_or_skip(server: str) -> None:
    """For tests that make databases of their own on the PostgreSQL server: skip when it is
    down, unless the run requires every database (CI), where that is a failure."""
    import pytest

    reason = probe(f"{server}/postgres")
    if reason is None:
        return
    if databases_required():
        pytest.fail(f"PostgreSQL must be reachable (INNSYNC_TEST_REQUIRE_DATABASES=1): {reason}")
    pytest.skip(f"PostgreSQL is not reachable: {reason}")

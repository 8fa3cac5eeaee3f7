"""Alembic environment: runs migrations against the configured database."""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Connection

from innsync.db.engine import build_engine
from innsync.db.types import UtcDateTime
from innsync.schema import metadata
from innsync.settings import get_settings


def _render_item(kind: str, item: Any, _context: AutogenContext) -> str | Literal[False]:
    # Migrations store what the database sees; the UTC wrapper is Python-side behaviour only.
    if kind == "type" and isinstance(item, UtcDateTime):
        _context.imports.add("from sqlalchemy.dialects import mysql")
        return 'sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")'
    return False


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url") or get_settings().database_url
    engine = build_engine(url)
    try:
        with engine.connect() as new_connection:
            _run(new_connection)
    finally:
        engine.dispose()


run_migrations_online()

"""Applying migrations and telling whether a database is at the newest revision."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any, Literal

from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

ALEMBIC_INI = Path(__file__).with_name("alembic.ini")


def alembic_config(url: str | None = None) -> Config:
    config = Config(str(ALEMBIC_INI))
    if url:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


@cache
def scripts() -> ScriptDirectory:
    """The migration scripts, read once per process: alembic's own commands read and compile
    every file in ``versions/`` again on each call (about 0.4 s each time)."""
    return ScriptDirectory.from_config(alembic_config())


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest revision (the only way innsync creates tables)."""
    migrate(engine, "head", "up")


def migrate(engine: Engine, revision: str, direction: Literal["up", "down"]) -> None:
    """Run the migrations to ``revision``, in one transaction; what ``alembic upgrade`` and
    ``alembic downgrade`` do, with the scripts read once (``scripts``)."""
    config = alembic_config()
    script = scripts()

    def steps(current: Any, _context: MigrationContext) -> Any:
        if direction == "up":
            return script._upgrade_revs(revision, current)
        return script._downgrade_revs(revision, current)

    with engine.begin() as connection:
        config.attributes["connection"] = connection
        with EnvironmentContext(config, script, fn=steps, destination_rev=revision):
            script.run_env()


def head_revision() -> str | None:
    return scripts().get_current_head()


def current_revision(bind: Engine | Connection) -> str | None:
    if isinstance(bind, Connection):
        return MigrationContext.configure(bind).get_current_revision()
    with bind.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def is_current(engine: Engine) -> bool:
    return current_revision(engine) == head_revision()

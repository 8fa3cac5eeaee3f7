"""Which database a command uses: said on every run, and never a new SQLite file by accident.

With the default ``sqlite:///innsync.sqlite3`` (or any relative SQLite path) the file is looked
for in the working directory. A command run from another directory than ``innsync serve`` would
otherwise create an empty database there and act on it: a tenant made there, or a key issued
there, works nowhere. Only ``innsync serve`` and ``innsync migrate`` create a database.
"""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy import Engine, make_url

from innsync.db.engine import build_engine, normalize_url
from innsync.settings import Settings


class NoDatabaseError(click.ClickException):
    """The configured SQLite file is missing and this command does not create databases."""


def describe(database_url: str) -> str:
    """The URL as the operator should read it: password hidden, SQLite paths made absolute."""
    url = make_url(normalize_url(database_url))
    path = sqlite_path(database_url)
    if path is not None:
        return f"sqlite:///{path.resolve()}"
    return url.render_as_string(hide_password=True)


def sqlite_path(database_url: str) -> Path | None:
    """The file of a file-backed SQLite URL; None for other databases and in-memory SQLite."""
    url = make_url(normalize_url(database_url))
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    if url.database.startswith("file:"):
        return None
    return Path(url.database)


def open_database(settings: Settings, *, may_create: bool = False) -> Engine:
    """An engine on the configured database, after saying which one it is (on stderr).

    Refuses a relative SQLite path whose file does not exist unless ``may_create``: that is a
    command run from the wrong directory, not a wish for a new, empty database.
    """
    path = sqlite_path(settings.database_url)
    shown = describe(settings.database_url)
    if path is not None and not path.is_absolute() and not path.exists() and not may_create:
        raise NoDatabaseError(
            f"no innsync database at {path.resolve()}: INNSYNC_DATABASE_URL "
            f"({settings.database_url}) is relative to the working directory, {Path.cwd()}. "
            "Run this command where `innsync serve` runs, set INNSYNC_DATABASE_URL to the "
            "database's absolute URL (sqlite:////path/to/innsync.sqlite3), or create a new "
            "database here with `innsync migrate`."
        )
    click.echo(f"database: {shown}", err=True)
    return build_engine(settings.database_url)

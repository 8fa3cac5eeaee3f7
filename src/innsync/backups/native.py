"""Native dumps: the server's own tools (``pg_dump``/``psql``, ``mariadb-dump``/``mariadb``),
their SQL streamed through the same encrypted frames as the portable format.

A native dump restores only into the same kind of database; the portable format stays the way
between kinds. Its manifest still holds every table's rows and checksum (the portable format's),
read in the very snapshot the tool dumps, so ``verify`` proves a native dump the same way:

- PostgreSQL: the backup's SERIALIZABLE READ ONLY DEFERRABLE transaction exports its snapshot
  (``pg_export_snapshot``) and ``pg_dump --snapshot`` reads that one.
- MariaDB: no snapshot can be shared, so commits are held off (``BACKUP STAGE BLOCK_COMMIT``,
  MariaDB 10.4+, which needs the RELOAD privilege) from just before the backup's own consistent
  snapshot until ``mariadb-dump --single-transaction`` has started its own and is writing its
  first table: both then see the same data. Commits wait for that moment only (tens of
  milliseconds), never for the dump.

Credentials never reach a command line: PostgreSQL's tools read ``PGPASSWORD`` from their
environment, MariaDB's a defaults file readable only by this user (0600) in a private directory.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from io import BufferedReader
from pathlib import Path
from typing import IO, cast

from sqlalchemy import Connection, Engine, MetaData
from sqlalchemy.engine import URL

from innsync.backups.cipher import BackupError
from innsync.db.engine import build_engine

PG_DUMP = "pg_dump"
MARIADB_DUMP = "mariadb-dump"
# The dump tool and the client that loads its output, per format.
TOOLS = {PG_DUMP: ("pg_dump", "psql"), MARIADB_DUMP: ("mariadb-dump", "mariadb")}
DIALECT_OF = {PG_DUMP: "postgresql", MARIADB_DUMP: "mysql"}
# At most this many bytes of a tool's output at a time (``read1``: what the pipe holds, without
# waiting for more, so the MariaDB lock is released as soon as the first table shows).
CHUNK_BYTES = 1 << 20
# mariadb-dump writes this before a table's rows, after its transaction has begun.
FIRST_TABLE = b"CREATE TABLE"
# Lines of a failed tool's error output kept in the error (never the command line).
ERROR_LINES = 5


def native_format(engine: Engine) -> str | None:
    """The native format for ``engine``'s database when its tools are installed, else None."""
    dialect = engine.dialect.name
    for name, kind in DIALECT_OF.items():
        if kind == dialect and all(shutil.which(tool) for tool in TOOLS[name]):
            return name
    return None


def check_target(format_name: str, engine: Engine) -> None:
    """A native dump loads only into the kind of database it came from, with its tools."""
    kind = DIALECT_OF.get(format_name)
    if kind is None:
        raise BackupError(f"unknown backup format {format_name!r}")
    if engine.dialect.name != kind:
        raise BackupError(
            f"this backup is a {format_name} dump: it restores only into "
            f"{'PostgreSQL' if kind == 'postgresql' else 'MariaDB'}, not "
            f"{engine.dialect.name}; take a portable backup (INNSYNC_BACKUP_NATIVE_DUMPS=false) "
            "to move between kinds of database"
        )
    missing = [tool for tool in TOOLS[format_name] if shutil.which(tool) is None]
    if missing:
        raise BackupError(f"restoring a {format_name} dump needs {', '.join(missing)} installed")


def tool_version(format_name: str) -> str:
    """What ``<tool> --version`` says, for the manifest."""
    tool = TOOLS[format_name][0]
    found = subprocess.run(  # noqa: S603  (a fixed tool name, no input of anyone's)
        [tool, "--version"], capture_output=True, check=False, text=True
    )
    return found.stdout.strip() or tool


@contextmanager
def client_access(url: URL) -> Iterator[tuple[list[str], dict[str, str]]]:
    """Arguments and environment that point a tool at ``url``'s database, no secret in argv."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    if url.get_backend_name() == "postgresql":
        env |= {
            "PGHOST": url.host or "localhost",
            "PGPORT": str(url.port or 5432),
            "PGUSER": url.username or "postgres",
            "PGDATABASE": url.database or "",
        }
        if url.password:
            env["PGPASSWORD"] = str(url.password)
        if "sslmode" in url.query:
            env["PGSSLMODE"] = str(url.query["sslmode"])
        yield [], env
        return
    with tempfile.TemporaryDirectory(prefix="innsync-client-") as folder:
        defaults = Path(folder) / "client.cnf"
        lines = ["[client]", f"host={url.host or 'localhost'}", f"port={url.port or 3306}"]
        lines.append(f"user={url.username or 'root'}")
        if url.password:
            # Quoted, so that '#' and ';' are not comments; backslash escapes inside the quotes.
            quoted = str(url.password).replace("\\", "\\\\").replace('"', '\\"')
            lines.append(f'password="{quoted}"')
        descriptor = os.open(defaults, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write("\n".join(lines) + "\n")
        # --defaults-extra-file must be a tool's first argument.
        yield [f"--defaults-extra-file={defaults}"], env


def _failed(tool: str, errors: IO[bytes], code: int) -> BackupError:
    errors.seek(0)
    tail = errors.read().decode(errors="replace").strip().splitlines()[-ERROR_LINES:]
    return BackupError(f"{tool} failed (exit {code}): " + " | ".join(tail))


@contextmanager
def writes_held_off(engine: Engine) -> Iterator[tuple[Callable[[], None], Callable[[], None]]]:
    """MariaDB: ``hold`` keeps every writer off until ``release`` (or the block's end).

    The lock's connection is checked out here, before ``hold``: a pool emptied by writers that
    the lock blocks would otherwise never hand it (or the snapshot's) out.
    """
    with engine.connect() as lock:
        held = False

        def hold() -> None:
            nonlocal held
            # Not FLUSH TABLES WITH READ LOCK: it waits for every running statement, and one
            # waiting for a row whose holder's commit the lock blocks is a deadlock until
            # innodb_lock_wait_timeout. BLOCK_COMMIT stops commits only (MariaDB 10.4+).
            lock.exec_driver_sql("BACKUP STAGE START")
            lock.exec_driver_sql("BACKUP STAGE BLOCK_COMMIT")
            held = True

        def release() -> None:
            nonlocal held
            if held:
                lock.exec_driver_sql("BACKUP STAGE END")
                held = False

        try:
            yield hold, release
        finally:
            release()
            lock.rollback()


def dump(
    connection: Connection,
    url: URL,
    format_name: str,
    write: Callable[[bytes], None],
    started: Callable[[], None] = lambda: None,
) -> None:
    """Stream the tool's dump of ``url``'s database into ``write``; ``started`` is called once the
    dump is reading in a snapshot that equals ``connection``'s."""
    tool = TOOLS[format_name][0]
    with client_access(url) as (access, env), tempfile.TemporaryFile() as errors:
        if format_name == PG_DUMP:
            snapshot = connection.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one()
            command = [tool, *access, "--format=plain", "--no-owner", "--no-privileges"]
            command.append(f"--snapshot={snapshot}")
        else:
            command = [tool, *access, "--single-transaction", "--quick", "--skip-dump-date"]
            command.append(str(url.database))
        with subprocess.Popen(  # noqa: S603  (fixed tool, our options, the configured database)
            command, stdout=subprocess.PIPE, stderr=errors, env=env
        ) as process:
            if format_name == PG_DUMP:
                started()
            output = cast(BufferedReader, process.stdout)
            is_started = format_name == PG_DUMP
            seen = b""
            while chunk := output.read1(CHUNK_BYTES):
                if not is_started:
                    seen = (seen + chunk)[-(CHUNK_BYTES + len(FIRST_TABLE)) :]
                    if FIRST_TABLE in seen:
                        started()
                        is_started, seen = True, b""
                write(chunk)
            code = process.wait()
        started()
        if code != 0:
            raise _failed(tool, errors, code)


def drop_tables(engine: Engine) -> None:
    """Every table of ``engine``'s database, so a dump can create them anew."""
    existing = MetaData()
    existing.reflect(engine)
    with engine.begin() as connection:
        if engine.dialect.name == "mysql":
            connection.exec_driver_sql("SET FOREIGN_KEY_CHECKS=0")
        existing.drop_all(connection)
        if engine.dialect.name == "mysql":
            connection.exec_driver_sql("SET FOREIGN_KEY_CHECKS=1")


def load(engine: Engine, format_name: str, chunks: Iterator[bytes]) -> None:
    """Feed a dump to the database's own client; PostgreSQL loads it in one transaction."""
    url = engine.url
    tool = TOOLS[format_name][1]
    with client_access(url) as (access, env), tempfile.TemporaryFile() as errors:
        if format_name == PG_DUMP:
            command = [tool, *access, "-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction"]
        else:
            command = [tool, *access, "--binary-mode", str(url.database)]
        with subprocess.Popen(  # noqa: S603  (fixed tool, our options, the configured database)
            command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=errors, env=env
        ) as process:
            given = cast(IO[bytes], process.stdin)
            try:
                for chunk in chunks:
                    given.write(chunk)
            except BrokenPipeError:
                pass  # the client stopped on an error: its exit code and message say which
            except BaseException:
                # Killed before its input ends: psql must not commit half a dump at end of input.
                process.kill()
                raise
            given.close()
            code = process.wait()
        if code != 0:
            raise _failed(tool, errors, code)


@contextmanager
def scratch_database(engine: Engine) -> Iterator[Engine]:
    """A new, empty database beside ``engine``'s on the same server, dropped at the end."""
    name = f"innsync_verify_{uuid.uuid4().hex[:12]}"
    quote = engine.dialect.identifier_preparer.quote
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as admin:
        admin.exec_driver_sql(f"CREATE DATABASE {quote(name)}")
    scratch = build_engine(engine.url.set(database=name).render_as_string(hide_password=False))
    try:
        yield scratch
    finally:
        scratch.dispose()
        drop = f"DROP DATABASE IF EXISTS {quote(name)}"
        if engine.dialect.name == "postgresql":
            drop += " WITH (FORCE)"
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as admin:
            admin.exec_driver_sql(drop)

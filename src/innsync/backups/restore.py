"""Loading a backup into a database: the schema brought to the backup's revision, the rows
written in one transaction, then the schema migrated to this innsync's newest revision."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, Engine, Table, bindparam, func, inspect, select

from innsync.backups.cipher import BackupError
from innsync.backups.format import TableChecksum, TableSpec, encode_row
from innsync.db.migrate import current_revision, migrate, scripts
from innsync.schema import metadata

# Tables that describe the installation rather than the hotels: never backed up, never replaced.
EXCLUDED_TABLES = frozenset({"backup_operations"})


class BackupTargetNotEmptyError(BackupError):
    """The target database holds rows and the restore was not told to replace them."""

    def __init__(self, present: dict[str, int]) -> None:
        self.present = present
        super().__init__(
            "the target database is not empty ("
            + describe_rows(present)
            + "); restore with --force to replace all of it"
        )


def describe_rows(rows: dict[str, int]) -> str:
    return ", ".join(f"{name} {count} rows" for name, count in rows.items()) or "no rows"


def backed_up_tables() -> list[Table]:
    """Every table a backup holds, parents before children."""
    return [table for table in metadata.sorted_tables if table.name not in EXCLUDED_TABLES]


def existing_rows(engine: Engine) -> dict[str, int]:
    """Rows per non-empty table innsync knows in ``engine``'s database."""
    present = set(inspect(engine).get_table_names())
    counts: dict[str, int] = {}
    with engine.connect() as connection:
        for table in backed_up_tables():
            if table.name in present:
                count = connection.scalar(select(func.count()).select_from(table)) or 0
                if count:
                    counts[table.name] = count
    return counts


def delete_rows(connection: Connection) -> None:
    present = set(inspect(connection).get_table_names())
    tables = [table for table in reversed(backed_up_tables()) if table.name in present]
    for table in tables:
        # MariaDB checks a self-reference row by row during a DELETE: cut the links first.
        own = [fk.parent for fk in table.foreign_keys if fk.column.table is table]
        if own:
            connection.execute(table.update().values({column.name: None for column in own}))
    for table in tables:
        connection.execute(table.delete())


def migrate_to(engine: Engine, revision: str) -> None:
    """Bring the schema to ``revision``, up or down; refuse a revision this innsync lacks."""
    script = scripts()
    if revision not in {step.revision for step in script.walk_revisions()}:
        raise BackupError(
            f"the backup's schema revision {revision} is unknown to this innsync: it was made by "
            "a newer innsync; restore it with that version or newer"
        )
    current = current_revision(engine)
    if current == revision:
        return
    older = current is not None and revision in {
        step.revision for step in script.walk_revisions(base="base", head=current)
    }
    migrate(engine, revision, "down" if older else "up")


def load_rows(
    connection: Connection,
    batches: Iterator[tuple[TableSpec, list[dict[str, Any]]]],
    renumber: frozenset[str] = frozenset(),
) -> list[TableSpec]:
    """Insert every batch; a column referring to its own table (a derived rate plan's parent) is
    written after all of the table's rows, since rows come in key order, not parents first.
    Tables in ``renumber`` are inserted without their ids, which the target counts anew."""
    inspector = inspect(connection)
    specs: list[TableSpec] = []
    deferred: list[dict[str, Any]] = []
    current: TableSpec | None = None
    self_refs: list[str] = []
    for spec, batch in batches:
        if spec is not current:
            _finish(connection, current, self_refs, deferred)
            current, deferred = spec, []
            specs.append(spec)
            self_refs = [
                column
                for foreign_key in inspector.get_foreign_keys(spec.name)
                if foreign_key["referred_table"] == spec.name
                for column in foreign_key["constrained_columns"]
            ]
        if not batch:
            continue
        if self_refs:
            for row in batch:
                if any(row[column] is not None for column in self_refs):
                    deferred.append(
                        {f"k_{n}": row[n] for n in spec.primary_key}
                        | {f"v_{c}": row[c] for c in self_refs}
                    )
                    row.update({column: None for column in self_refs})
        if spec.name in renumber:
            for row in batch:
                for name in spec.primary_key:
                    del row[name]
        connection.execute(spec.table().insert(), batch)
    _finish(connection, current, self_refs, deferred)
    if connection.dialect.name == "postgresql":
        _reset_sequences(connection, specs)
    return specs


def _finish(
    connection: Connection,
    spec: TableSpec | None,
    self_refs: list[str],
    deferred: list[dict[str, Any]],
) -> None:
    if spec is None or not deferred:
        return
    table = spec.table()
    statement = table.update()
    for name in spec.primary_key:
        statement = statement.where(table.c[name] == bindparam(f"k_{name}"))
    statement = statement.values({column: bindparam(f"v_{column}") for column in self_refs})
    connection.execute(statement, deferred)


def _reset_sequences(connection: Connection, specs: list[TableSpec]) -> None:
    """PostgreSQL's counters for generated ids do not move when ids are written explicitly."""
    for spec in specs:
        if len(spec.primary_key) != 1:
            continue
        column = spec.primary_key[0]
        sequence = connection.exec_driver_sql(
            "SELECT pg_get_serial_sequence(%(t)s, %(c)s)", {"t": spec.name, "c": column}
        ).scalar()
        if sequence:
            quote = connection.dialect.identifier_preparer.quote
            # Identifiers come from innsync's own schema, quoted; the values are bound.
            highest = f"SELECT MAX({quote(column)}) FROM {quote(spec.name)}"  # noqa: S608
            connection.exec_driver_sql(
                f"SELECT setval(%(s)s, COALESCE(({highest}), 0) + 1, false)", {"s": sequence}
            )


def checksum_tables(connection: Connection, specs: list[TableSpec]) -> dict[str, tuple[int, str]]:
    """Rows and checksum of each table as the database now holds it."""
    sums: dict[str, tuple[int, str]] = {}
    for spec in specs:
        checksum = TableChecksum()
        result = connection.execution_options(yield_per=1000).execute(select(spec.table()))
        for batch in result.partitions():
            for row in batch:
                checksum.add(encode_row(spec, row))
        sums[spec.name] = (checksum.rows, checksum.hexdigest)
    return sums

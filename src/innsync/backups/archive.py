"""Writing a backup's data stream and manifest, and reading them back with every check.

The manifest (JSON, unencrypted) says what a backup holds without the key: when, which innsync
and schema revision, each table's rows and checksum, and the data file's SHA-256. The encrypted
stream ends with the same table summary, so an edited manifest is caught as surely as edited
data.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from importlib.metadata import version
from typing import Any, BinaryIO

from sqlalchemy import ColumnElement, Connection, Table, select

from innsync.backups.cipher import BackupCorruptError, BackupKey, FrameWriter, decrypt_frames
from innsync.backups.format import (
    FORMAT_VERSION,
    TableChecksum,
    TableSpec,
    canonical,
    decode_row,
    encode_row,
)

# Rows fetched from the database, and rows handed to a restore, per batch: memory stays bounded
# by this many rows whatever the table's size.
BATCH_ROWS = 1000
FORMAT_NAME = "innsync-backup"
# What the encrypted stream holds: the portable NDJSON, or a native dump tool's SQL.
PORTABLE = "portable"


@dataclass(frozen=True)
class TableSummary:
    name: str
    rows: int
    checksum: str


@dataclass
class Manifest:
    """What a backup holds, readable without its key."""

    name: str
    created_at: datetime
    schema_revision: str
    source_database: str
    key_fingerprint: str
    tables: list[TableSummary] = field(default_factory=list)
    data_bytes: int = 0
    data_sha256: str = ""
    innsync_version: str = field(default_factory=lambda: version("innsync"))
    tenant_id: str | None = None
    cipher: str = "AES-256-GCM, HKDF-SHA256 per backup, zlib frames"
    format: str = FORMAT_NAME
    format_version: int = FORMAT_VERSION
    # PORTABLE, or the native tool (``native.PG_DUMP``, ``native.MARIADB_DUMP``) and its version.
    data_format: str = PORTABLE
    dump_tool: str | None = None
    # A native dump's tables as ``TableSpec.record()``: how verify checksums them once loaded.
    table_specs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def is_native(self) -> bool:
        return self.data_format != PORTABLE

    @property
    def total_rows(self) -> int:
        return sum(table.rows for table in self.tables)

    def to_json(self) -> bytes:
        data = asdict(self)
        data["created_at"] = self.created_at.isoformat()
        return json.dumps(data, indent=2, sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        try:
            data = json.loads(raw)
            if data.get("format") != FORMAT_NAME:
                raise BackupCorruptError("not an innsync backup manifest")
            if data.get("format_version") != FORMAT_VERSION:
                raise BackupCorruptError(
                    f"backup format {data.get('format_version')} is not supported by this "
                    f"innsync (it reads format {FORMAT_VERSION})"
                )
            data["created_at"] = datetime.fromisoformat(data["created_at"])
            data["tables"] = [TableSummary(**table) for table in data["tables"]]
            return cls(**data)
        except (ValueError, KeyError, TypeError) as exc:
            raise BackupCorruptError(f"the backup's manifest is unreadable: {exc}") from exc


class _HashingSink:
    def __init__(self, sink: BinaryIO) -> None:
        self._sink = sink
        self.sha256 = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.sha256.update(data)
        self.size += len(data)
        return self._sink.write(data)


class _HashingSource:
    def __init__(self, source: BinaryIO) -> None:
        self._source = source
        self.sha256 = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self._source.read(size)
        self.sha256.update(data)
        return data


def write_stream(
    connection: Connection,
    tables: list[Table],
    manifest: Manifest,
    key: BackupKey,
    sink: BinaryIO,
    where: Callable[[Table], ColumnElement[bool]] | None = None,
) -> None:
    """Dump ``tables`` (parents first) from ``connection`` into ``sink``, only the rows ``where``
    picks when given; fills in the manifest's table summaries, data size and SHA-256."""
    hashing = _HashingSink(sink)
    writer = FrameWriter(hashing, key)  # type: ignore[arg-type]
    writer.write(
        canonical(
            {
                "kind": "begin",
                "name": manifest.name,
                "schema_revision": manifest.schema_revision,
                "format_version": FORMAT_VERSION,
            }
        )
        + b"\n"
    )
    summaries: list[TableSummary] = []
    for model_table in tables:
        spec = TableSpec.of(model_table)
        table = spec.table()
        writer.write(canonical(spec.record()) + b"\n")
        checksum = TableChecksum()
        order = [table.c[name] for name in spec.primary_key]
        query = select(table).order_by(*order)
        if where is not None:
            query = query.where(where(table))
        result = connection.execution_options(yield_per=BATCH_ROWS).execute(query)
        for batch in result.partitions():
            lines = [encode_row(spec, row) for row in batch]
            for line in lines:
                checksum.add(line)
            writer.write(b"\n".join(lines) + b"\n")
        summary = TableSummary(spec.name, checksum.rows, checksum.hexdigest)
        summaries.append(summary)
        writer.write(canonical({"kind": "end_table", **asdict(summary)}) + b"\n")
    writer.write(
        canonical({"kind": "end", "tables": [asdict(summary) for summary in summaries]}) + b"\n"
    )
    writer.close()
    manifest.tables = summaries
    manifest.data_bytes = hashing.size
    manifest.data_sha256 = hashing.sha256.hexdigest()


def write_native(
    write_dump: Callable[[Callable[[bytes], None]], None],
    summaries: Callable[[], tuple[list[TableSpec], dict[str, tuple[int, str]]]],
    manifest: Manifest,
    key: BackupKey,
    sink: BinaryIO,
) -> None:
    """Encrypt what ``write_dump`` writes into ``sink``; the manifest gets the data's size and
    SHA-256 and, from ``summaries`` (read in the dump's snapshot), each table's rows and
    checksum."""
    hashing = _HashingSink(sink)
    writer = FrameWriter(hashing, key)  # type: ignore[arg-type]
    write_dump(writer.write)
    writer.close()
    specs, sums = summaries()
    manifest.tables = [TableSummary(spec.name, *sums[spec.name]) for spec in specs]
    manifest.table_specs = [spec.record() for spec in specs]
    manifest.data_bytes = hashing.size
    manifest.data_sha256 = hashing.sha256.hexdigest()


def read_native(source: BinaryIO, key: BackupKey, manifest: Manifest) -> Iterator[bytes]:
    """A native dump's SQL, frame by frame (each authenticated); the data file's SHA-256 is
    checked at the end, so a consumer must be able to undo what it did when this raises."""
    hashing = _HashingSource(source)
    yield from decrypt_frames(hashing, key)  # type: ignore[arg-type]
    if hashing.sha256.hexdigest() != manifest.data_sha256:
        raise BackupCorruptError("the backup's data file does not match its manifest's SHA-256")


def _lines(chunks: Iterator[bytes]) -> Iterator[bytes]:
    pending = b""
    for chunk in chunks:
        pending += chunk
        *complete, pending = pending.split(b"\n")
        yield from complete
    if pending:
        raise BackupCorruptError("backup is damaged: its last line is incomplete")


def read_stream(
    source: BinaryIO, key: BackupKey, manifest: Manifest
) -> Iterator[tuple[TableSpec, list[dict[str, Any]]]]:
    """Each table's rows in batches, ``(spec, [])`` first for every table.

    The checks on the whole backup (trailer, manifest, data SHA-256) can only pass at the end of
    the stream, so a consumer must use the rows inside a transaction it rolls back when this
    raises: a restore is then all or nothing.
    """
    hashing = _HashingSource(source)
    records = _lines(decrypt_frames(hashing, key))  # type: ignore[arg-type]
    begin = _record(next(records, b""), "begin")
    if begin.get("schema_revision") != manifest.schema_revision or begin.get("name") != (
        manifest.name
    ):
        raise BackupCorruptError("the manifest does not belong to this backup's data")
    seen: list[TableSummary] = []
    for line in records:
        record = _record(line)
        if record["kind"] == "end":
            trailer = [TableSummary(**table) for table in record["tables"]]
            if trailer != seen:
                raise BackupCorruptError("backup is damaged: its table summary does not match")
            if next(records, None) is not None:
                raise BackupCorruptError("backup is damaged: data follows its end record")
            break
        if record["kind"] != "table":
            raise BackupCorruptError(f"backup is damaged: unexpected {record['kind']} record")
        spec = TableSpec.from_record(record)
        yield spec, []
        checksum = TableChecksum()
        batch: list[dict[str, Any]] = []
        for row_line in records:
            if not row_line.startswith(b"["):
                end = _record(row_line, "end_table")
                break
            checksum.add(row_line)
            batch.append(_row(spec, row_line))
            if len(batch) >= BATCH_ROWS:
                yield spec, batch
                batch = []
        else:
            raise BackupCorruptError(f"backup is damaged: table {spec.name} has no end")
        if batch:
            yield spec, batch
        summary = TableSummary(spec.name, checksum.rows, checksum.hexdigest)
        if TableSummary(end["name"], end["rows"], end["checksum"]) != summary:
            raise BackupCorruptError(f"backup is damaged: table {spec.name} fails its checksum")
        seen.append(summary)
    else:
        raise BackupCorruptError("backup is damaged: it has no end record")
    if seen != manifest.tables:
        raise BackupCorruptError(
            "the manifest does not match the backup's encrypted contents (edited or swapped)"
        )
    if hashing.sha256.hexdigest() != manifest.data_sha256:
        raise BackupCorruptError("the backup's data file does not match its manifest's SHA-256")


def _record(line: bytes, kind: str | None = None) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except ValueError as exc:
        raise BackupCorruptError("backup is damaged: a record is not JSON") from exc
    if not isinstance(record, dict) or (kind is not None and record.get("kind") != kind):
        raise BackupCorruptError(f"backup is damaged: expected a {kind or 'control'} record")
    return record


def _row(spec: TableSpec, line: bytes) -> dict[str, Any]:
    try:
        return decode_row(spec, json.loads(line))
    except (ValueError, TypeError) as exc:
        raise BackupCorruptError(f"backup is damaged: a row of {spec.name}: {exc}") from exc

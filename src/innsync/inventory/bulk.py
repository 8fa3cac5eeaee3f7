"""A bulk ARI write in bounded transactions, so no writer waits long behind it.

The write is checked whole first (reads only: all or nothing for invalid input), then applied
in chunks of whole entries in input order, each chunk in its own transaction with its dirty
marks (the outbox rule: never a value without its mark). A chunk is sized to hold a write
lock for milliseconds; between chunks, other writers get their turn. If the process dies, or
the database stays busy, half-way, the chunks before are committed with their marks (entries
``0 .. k-1``) and the rest is not: retrying the whole write is safe for rates and restrictions,
which are set, not added (blocks are added again; see ``docs/api.md``).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime

from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Session, sessionmaker

from innsync.db.busy import is_busy
from innsync.db.engine import reading, transaction
from innsync.errors import DatabaseBusyError
from innsync.inventory.calendar import CheckedAri, apply_ari, check_ari
from innsync.inventory.schemas import AriEntryResult, AriWrite, AriWriteResult

# What one transaction of a bulk write aims to hold its locks for (SQLite: the one write lock).
# A chunk's size in date ranges (an entry writes one, or one per run of the weekdays it names)
# follows the pace the previous chunk was written at, so a busy machine gets smaller chunks
# instead of longer holds. Well inside the 100 ms a waiting writer should see at most, and long
# enough that a commit's fixed cost (a few ms) stays small.
TARGET_HOLD_SECONDS = 0.04
# The first chunk's size, before any pace is known: ~10-20 ms on an idle 2-core machine.
FIRST_CHUNK_RANGES = 200
# Never more per transaction, however fast the database seems (a fast chunk may be luck).
MAX_CHUNK_RANGES = 5_000
# On SQLite, after each chunk the bulk writer waits as long as it held the lock: writers queued
# on busy_timeout poll with growing sleeps (up to 100 ms) and would miss a shorter gap, so the
# bulk write would starve them. It halves the bulk write's speed on SQLite, by design.
SQLITE_YIELD_SHARE = 1.0


def _entry_ranges(checked: CheckedAri) -> list[int]:
    """What each entry writes, in date ranges: the unit a chunk is measured in."""
    return [len(ranges) for ranges in checked.dates]


def _take(weights: list[int], start: int, limit: int) -> range:
    """Whole entries from ``start`` weighing at most ``limit`` together (at least one entry)."""
    stop, total = start + 1, weights[start]
    while stop < len(weights) and total + weights[stop] <= limit:
        total += weights[stop]
        stop += 1
    return range(start, stop)


def chunks(checked: CheckedAri, limit: int) -> Iterator[range]:
    """Consecutive runs of whole entries of at most ``limit`` date ranges each (one entry may
    exceed it)."""
    weights, start = _entry_ranges(checked), 0
    while start < len(weights):
        part = _take(weights, start, limit)
        yield part
        start = part.stop


def _next_limit(limit: int, written: int, held: float) -> int:
    """The next chunk's size: half the last one's, half what its pace says fits the target."""
    fits = written * TARGET_HOLD_SECONDS / max(held, 0.001)
    return max(1, min(MAX_CHUNK_RANGES, int((limit + fits) / 2)))


def write_ari_in_chunks(
    sessions: sessionmaker[Session],
    tenant_id: uuid.UUID,
    property_id: uuid.UUID,
    request: AriWrite,
    now: datetime | None = None,
    *,
    chunk_ranges: int | None = None,
    on_commit: Callable[[range, float], None] | None = None,
) -> AriWriteResult:
    """Check the write, then apply it chunk by chunk; ``on_commit(entries, seconds held)``
    reports each committed chunk (the benchmark's lock-hold figure). ``chunk_ranges`` fixes the
    chunk size (tests); by default it adapts to the measured pace."""
    with reading(sessions) as session:
        checked = check_ari(session, tenant_id, property_id, request, now)
    results: list[AriEntryResult] = []
    sqlite = sessions.kw["bind"].dialect.name == "sqlite"
    weights, start = _entry_ranges(checked), 0
    limit = chunk_ranges or FIRST_CHUNK_RANGES
    while start < len(weights):
        part = _take(weights, start, limit)
        try:
            began = time.perf_counter()
            with transaction(sessions) as session:
                results.extend(apply_ari(session, checked, part))
            held = time.perf_counter() - began
        except (DBAPIError, PoolTimeoutError) as exc:
            if not is_busy(exc):
                raise
            raise DatabaseBusyError(_partly_written(part.start, len(weights))) from exc
        if on_commit is not None:
            on_commit(part, held)
        if chunk_ranges is None:
            limit = _next_limit(limit, sum(weights[part.start : part.stop]), held)
        start = part.stop
        if sqlite and start < len(weights):
            time.sleep(held * SQLITE_YIELD_SHARE)
    return AriWriteResult(results=results, warnings=list(checked.warnings))


def _partly_written(done: int, total: int) -> str:
    if not done:
        return "the database is busy with other writes; nothing of this request was written, retry"
    return (
        f"the database is busy with other writes: entries 0..{done - 1} were written and "
        f"committed, entries {done}..{total - 1} were not; retry (rates and restrictions are "
        "set, not added, so sending the whole write again is safe)"
    )

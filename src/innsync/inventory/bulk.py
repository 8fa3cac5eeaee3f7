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
from innsync.db.engine import READ_ONLY, transaction
from innsync.errors import DatabaseBusyError
from innsync.inventory.calendar import CheckedAri, apply_ari, check_ari
from innsync.inventory.expansion import count_days
from innsync.inventory.schemas import AriEntryResult, AriWrite, AriWriteResult

# Stay dates written per transaction: ~4,000 upserted days hold SQLite's write lock for about
# 20-40 ms on a 2-core machine (more under load; `innsync bench bulk_write`), well inside the
# 100 ms a waiting writer should see at most. An entry (at most 750 days) is never split.
CHUNK_DAYS = 4_000
# On SQLite, after each chunk the bulk writer waits as long as it held the lock: writers queued
# on busy_timeout poll with growing sleeps (up to 100 ms) and would miss a shorter gap, so the
# bulk write would starve them. It halves the bulk write's speed on SQLite, by design.
SQLITE_YIELD_SHARE = 1.0


def chunks(checked: CheckedAri, limit: int = CHUNK_DAYS) -> Iterator[range]:
    """Consecutive runs of whole entries of at most ``limit`` days each (one entry may exceed)."""
    start, days = 0, 0
    for index, entry in enumerate(checked.entries):
        size = count_days(entry.to_range(), entry.weekday_numbers())
        if index > start and days + size > limit:
            yield range(start, index)
            start, days = index, 0
        days += size
    if start < len(checked.entries):
        yield range(start, len(checked.entries))


def write_ari_in_chunks(
    sessions: sessionmaker[Session],
    tenant_id: uuid.UUID,
    property_id: uuid.UUID,
    request: AriWrite,
    now: datetime | None = None,
    *,
    chunk_days: int = CHUNK_DAYS,
    on_commit: Callable[[range, float], None] | None = None,
) -> AriWriteResult:
    """Check the write, then apply it chunk by chunk; ``on_commit(entries, seconds held)``
    reports each committed chunk (the benchmark's lock-hold figure)."""
    with sessions() as session:
        session.connection(execution_options={READ_ONLY: True})
        checked = check_ari(session, tenant_id, property_id, request, now)
    results: list[AriEntryResult] = []
    sqlite = sessions.kw["bind"].dialect.name == "sqlite"
    for part in chunks(checked, chunk_days):
        try:
            began = time.perf_counter()
            with transaction(sessions) as session:
                results.extend(apply_ari(session, checked, part))
            held = time.perf_counter() - began
        except (DBAPIError, PoolTimeoutError) as exc:
            if not is_busy(exc):
                raise
            raise DatabaseBusyError(_partly_written(part.start, len(checked.entries))) from exc
        if on_commit is not None:
            on_commit(part, held)
        if sqlite and part.stop < len(checked.entries):
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

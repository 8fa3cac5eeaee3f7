"""The periodic pull of a channel-sourced property's ARI (the ``SourcesAri`` capability).

Webhooks bring changes as they happen; this pull, due every ``ari_pull_interval_seconds``
(default hourly), repairs whatever a lost webhook left out. It is idempotent like every channel
write (``channel_ari``): a pull that finds what is stored writes nothing. Due times are stored
on ``AriSource`` and claimed with ``SKIP LOCKED`` plus a lease, so several workers share them;
each pull spends one call of the channel's quota (``quota``), and waits for it when spent.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from innsync import containment
from innsync.channels.contract import ChannelAdapter, SourcesAri
from innsync.channels.errors import ChannelError, ChannelUnavailableError
from innsync.clock import Clock, utc_now
from innsync.connections.models import Connection
from innsync.db.claims import claim_due
from innsync.db.engine import transaction
from innsync.inbox.timing import AdapterFactory, retry_delay
from innsync.marketplace.channel_ari import ChannelAriResult, apply_snapshot
from innsync.marketplace.models import AriSource
from innsync.marketplace.quota import take_call
from innsync.properties.models import Property
from innsync.properties.service import horizon

logger = logging.getLogger(__name__)

# A claimed pull is left to its worker this long: longer than one pull with its time-out.
PULL_LEASE = timedelta(minutes=5)
# The first retry of a failed pull; doubled per failure, never later than the next regular pull.
FIRST_RETRY = timedelta(seconds=30)
MAX_ERROR = 2000
SKIPPED_STATES = ("disabled",)


@dataclass(frozen=True, slots=True)
class _Due:
    property_id: uuid.UUID
    connection: Connection


async def pull_due_ari(
    sessions: sessionmaker[Session],
    adapter_for: AdapterFactory,
    interval: timedelta,
    limit: int = 20,
    *,
    clock: Clock = utc_now,
) -> int:
    """Pull the ARI of the sources that are due; returns how many were tried."""
    due = _claim(sessions, limit, clock())
    for item in due:
        try:
            adapter = adapter_for(item.connection)
        except Exception as exc:  # noqa: BLE001  (a broken stored config is the connection's)
            containment.connection_failed(sessions, item.connection.id, "ARI pull", exc)
            _failed_at(sessions, item.property_id, exc, interval, clock())
            continue
        await pull_one(sessions, adapter, item.property_id, interval, clock=clock)
    return len(due)


async def pull_one(
    sessions: sessionmaker[Session],
    adapter: ChannelAdapter,
    property_id: uuid.UUID,
    interval: timedelta,
    *,
    clock: Clock = utc_now,
) -> ChannelAriResult | None:
    """Pull one property's ARI from its source and store it; ``None`` when nothing was read."""
    now = clock()
    with transaction(sessions) as session:
        source = session.get(AriSource, property_id, with_for_update=True, populate_existing=True)
        if source is None:
            return None
        if not isinstance(adapter, SourcesAri):
            source.next_pull_at = now + interval
            source.pull_error = "the channel offers no ARI to pull"
            return None
        wait = take_call(source, adapter.limits, now)
        if wait:
            source.next_pull_at = now + timedelta(seconds=wait)
            return None
        window = horizon(session.get_one(Property, property_id), now)
        connection_id = source.connection_id
    try:
        snapshot = await adapter.pull_ari(window)
    except ChannelError as exc:
        _failed_at(sessions, property_id, exc, interval, now)
        return None
    with transaction(sessions) as session:
        source = session.get(AriSource, property_id, with_for_update=True, populate_existing=True)
        if source is None or source.connection_id != connection_id:
            return None  # the source changed while the pull was on the wire
        result = apply_snapshot(session, source, snapshot, now)
        source = session.get_one(AriSource, property_id)
        source.pulled_at, source.pull_error = now, ""
        source.next_pull_at = now + interval
    if result.unknown_codes:
        logger.warning(
            "ARI pull carried codes nothing maps",
            extra={"property_id": str(property_id), "codes": list(result.unknown_codes)[:20]},
        )
    return result


def _claim(sessions: sessionmaker[Session], limit: int, now: datetime) -> list[_Due]:
    with transaction(sessions) as session:
        sources = claim_due(
            session, AriSource, AriSource.next_pull_at, now, PULL_LEASE, limit=limit
        )
        due = []
        for source in sources:
            connection = session.get_one(Connection, source.connection_id)
            if connection.state in SKIPPED_STATES or not connection.pull_enabled:
                continue  # looked at again when the lease ends
            session.expunge(connection)
            due.append(_Due(source.property_id, connection))
        return due


def _failures(error: str) -> int:
    """Failed pulls in a row, kept at the head of ``pull_error`` ("attempt 3: ...")."""
    head = error.split(":", 1)[0]
    return int(head.removeprefix("attempt ")) if head.startswith("attempt ") else 0


def _failed_at(
    sessions: sessionmaker[Session],
    property_id: uuid.UUID,
    error: BaseException,
    interval: timedelta,
    now: datetime,
) -> None:
    with transaction(sessions) as session:
        source = session.get(AriSource, property_id, with_for_update=True, populate_existing=True)
        if source is None:
            return
        failures = _failures(source.pull_error) + 1
        hint = error.retry_after if isinstance(error, ChannelUnavailableError) else None
        source.next_pull_at = now + retry_delay(failures, FIRST_RETRY, hint, cap=interval)
        source.pull_error = f"attempt {failures}: {containment.describe(error)}"[:MAX_ERROR]

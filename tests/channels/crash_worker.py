"""An innsync process for one XML channel's connection that kills itself with SIGKILL at a step.

``python -m tests.channels.crash_worker CHANNEL DATABASE_URL SECRET_KEY CRASH_AT OFFSET``

``CHANNEL`` is ``booking_com``, ``expedia`` or ``agoda``. ``CRASH_AT`` is ``stored`` (the
pull's revisions are committed to the inbox, nothing processed), ``applied`` (the first inbox
item's transaction committed, nothing after it), ``acknowledge`` (an item's transaction
committed, its acknowledgement or confirmation not sent yet) or ``none`` (pull, process and
acknowledge until nothing is left, then exit 0). ``OFFSET`` (seconds) puts the process where
the test's clock stands, and a restarted one past the leases the killed one left behind.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.orm import Session, sessionmaker

import innsync.schema  # noqa: F401  (every table, for the foreign keys)
from innsync.channels.agoda import AgodaAdapter, AgodaConfig
from innsync.channels.booking_com import BookingComAdapter, BookingComConfig
from innsync.channels.expedia import ExpediaAdapter, ExpediaConfig
from innsync.connections.credentials import DatabaseAccountCredentials
from innsync.crypto import SecretBox
from innsync.db.base import utcnow
from innsync.db.engine import build_engine, session_factory
from innsync.db.personal import install_keys
from innsync.inbox import processor
from innsync.inbox.acknowledge import acknowledge_due
from innsync.inbox.reconciler import pull_due

Clock = Callable[[], datetime]


def _die(*_: Any, **__: Any) -> Any:
    os.kill(os.getpid(), signal.SIGKILL)


def _adapter(
    channel: str,
    stored: dict[str, Any],
    http: httpx.AsyncClient,
    sessions: sessionmaker[Session],
    box: SecretBox,
    clock: Clock,
) -> Any:
    """The channel's adapter as a worker process builds it from the stored config."""
    if channel == "booking_com":
        return BookingComAdapter(
            BookingComConfig.model_validate(stored),
            http,
            accounts=DatabaseAccountCredentials(sessions, box, now=clock),
            now=clock,
        )
    if channel == "expedia":
        return ExpediaAdapter(ExpediaConfig.model_validate(stored), http, now=clock)
    if channel == "agoda":
        return AgodaAdapter(AgodaConfig.model_validate(stored), http, now=clock)
    raise SystemExit(f"no crash worker for channel {channel!r}")


def _arm(crash_at: str) -> None:
    """Replace the step the process is to die at."""
    if crash_at == "acknowledge":
        processor.acknowledge_item = _die  # type: ignore[assignment]
    elif crash_at == "applied":
        applied = processor._process

        async def apply_then_die(*args: Any, **kwargs: Any) -> None:
            await applied(*args, **kwargs)
            _die()

        processor._process = apply_then_die


async def main(channel: str, database_url: str, key: str, crash_at: str, offset: float) -> None:
    sessions = session_factory(build_engine(database_url))
    box = SecretBox([key])
    install_keys(box)  # personal data read and written here uses the run's key
    _arm(crash_at)

    def clock() -> datetime:
        return utcnow() + timedelta(seconds=offset)

    async with httpx.AsyncClient(timeout=30) as http:

        def adapter_for(connection: Any) -> Any:
            stored = json.loads(box.decrypt(connection.config_encrypted))
            return _adapter(channel, stored, http, sessions, box, clock)

        await pull_due(sessions, adapter_for, clock=clock)
        if crash_at == "stored":
            _die()
        while True:
            done = await processor.process_pending(sessions, adapter_for, clock=clock)
            done += await acknowledge_due(sessions, adapter_for, clock=clock)
            if not done:
                return


if __name__ == "__main__":
    channel, url, key, crash_at, offset = sys.argv[1:6]
    asyncio.run(main(channel, url, key, crash_at, float(offset)))

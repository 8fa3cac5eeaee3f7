"""An innsync process for one EQC connection that kills itself with SIGKILL at a step.

``python -m tests.channels.expedia_crash_worker DATABASE_URL SECRET_KEY CRASH_AT OFFSET``

``CRASH_AT``: ``stored`` (the BR page is committed to the inbox, nothing applied), ``confirm``
(an item's transaction committed, its BC not sent yet) or ``none`` (pull, apply and confirm
until nothing is left, then exit 0). ``OFFSET`` (seconds) moves the clock past the leases a
killed process left behind, as time would.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from datetime import datetime, timedelta
from typing import Any

import httpx

import innsync.schema  # noqa: F401  (every table, for the foreign keys)
from innsync.channels.expedia import ExpediaAdapter, ExpediaConfig
from innsync.connections.models import Connection
from innsync.crypto import SecretBox
from innsync.db.base import utcnow
from innsync.db.engine import build_engine, session_factory
from innsync.db.personal import install_keys
from innsync.inbox import processor
from innsync.inbox.acknowledge import acknowledge_due
from innsync.inbox.reconciler import pull_due


def _die(*_: Any, **__: Any) -> Any:
    os.kill(os.getpid(), signal.SIGKILL)


async def main(database_url: str, key: str, crash_at: str, offset_seconds: float) -> None:
    sessions = session_factory(build_engine(database_url))
    box = SecretBox([key])
    install_keys(box)  # personal data read and written here uses the run's key
    if crash_at == "confirm":
        processor.acknowledge_item = _die  # type: ignore[assignment]

    def clock() -> datetime:
        return utcnow() + timedelta(seconds=offset_seconds)

    async with httpx.AsyncClient(timeout=30) as http:

        def adapter_for(connection: Connection) -> ExpediaAdapter:
            stored = json.loads(box.decrypt(connection.config_encrypted))
            return ExpediaAdapter(ExpediaConfig.model_validate(stored), http, now=clock)

        await pull_due(sessions, adapter_for, clock=clock)
        if crash_at == "stored":
            _die()
        while True:
            done = await processor.process_pending(sessions, adapter_for, clock=clock)
            done += await acknowledge_due(sessions, adapter_for, clock=clock)
            if not done:
                return


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])))

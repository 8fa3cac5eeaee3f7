"""An inbound worker process that kills itself with SIGKILL at a chosen step.

``python -m tests.inbound.crash_worker DATABASE_URL SECRET_KEY CRASH_AT CLOCK_OFFSET_SECONDS``

``CRASH_AT`` is ``apply`` (an item is claimed and its transaction is open: between storing and
processing), ``ack`` (the item's transaction committed, the acknowledgement not sent yet) or
``none`` (run every pass until nothing is left, then exit 0). The clock offset lets a restarted
worker stand after the leases the killed one left behind, as time would.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from datetime import timedelta
from typing import Any

import httpx

import innsync.schema  # noqa: F401  (every table, for the foreign keys)
from innsync.channels.channex import ChannexAdapter, ChannexConfig
from innsync.connections.models import Connection
from innsync.crypto import SecretBox
from innsync.db.base import utcnow
from innsync.db.engine import build_engine, session_factory
from innsync.db.personal import install_keys
from innsync.inbox import processor
from innsync.inbox.acknowledge import acknowledge_due


def _die(*_: Any, **__: Any) -> Any:
    os.kill(os.getpid(), signal.SIGKILL)


async def main(database_url: str, key: str, crash_at: str, offset_seconds: float) -> None:
    sessions = session_factory(build_engine(database_url))
    box = SecretBox([key])
    install_keys(box)  # as BackgroundLoops does in a real worker
    if crash_at == "apply":
        processor.ingest_revision = _die  # type: ignore[assignment]
    elif crash_at == "ack":
        processor.acknowledge_item = _die  # type: ignore[assignment]

    def clock() -> Any:
        return utcnow() + timedelta(seconds=offset_seconds)

    async with httpx.AsyncClient(timeout=30) as http:

        def adapter_for(connection: Connection) -> ChannexAdapter:
            stored = json.loads(box.decrypt(connection.config_encrypted))
            return ChannexAdapter(ChannexConfig.model_validate(stored), http)

        while True:
            done = await processor.process_pending(sessions, adapter_for, clock=clock)
            done += await acknowledge_due(sessions, adapter_for, clock=clock)
            if not done:
                return


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])))

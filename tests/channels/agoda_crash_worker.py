"""An innsync process for one Agoda connection that kills itself with SIGKILL at a step.

``python -m tests.channels.agoda_crash_worker DATABASE_URL SECRET_KEY CRASH_AT OFFSET``

``CRASH_AT`` is ``stored`` (the pull's revisions are committed to the inbox, nothing processed),
``applied`` (the first inbox item's transaction committed, nothing after it) or ``none`` (pull
and process until nothing is left, then exit 0). The clock offset (seconds) puts the process
where the test's clock stands, and a restarted one past the leases the killed one left.
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
from innsync.channels.agoda import AgodaAdapter, AgodaConfig
from innsync.connections.models import Connection
from innsync.crypto import SecretBox
from innsync.db.base import utcnow
from innsync.db.engine import build_engine, session_factory
from innsync.inbox import processor
from innsync.inbox.reconciler import pull_due


def _die(*_: Any, **__: Any) -> Any:
    os.kill(os.getpid(), signal.SIGKILL)


async def main(database_url: str, key: str, crash_at: str, offset_seconds: float) -> None:
    sessions = session_factory(build_engine(database_url))
    box = SecretBox([key])
    if crash_at == "applied":
        applied = processor._process

        async def apply_then_die(*args: Any, **kwargs: Any) -> None:
            await applied(*args, **kwargs)
            _die()

        processor._process = apply_then_die

    def clock() -> datetime:
        return utcnow() + timedelta(seconds=offset_seconds)

    async with httpx.AsyncClient(timeout=30) as http:

        def adapter_for(connection: Connection) -> AgodaAdapter:
            stored = json.loads(box.decrypt(connection.config_encrypted))
            return AgodaAdapter(AgodaConfig.model_validate(stored), http, now=clock)

        await pull_due(sessions, adapter_for, clock=clock)
        if crash_at == "stored":
            _die()
        while await processor.process_pending(sessions, adapter_for, clock=clock):
            pass


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])))

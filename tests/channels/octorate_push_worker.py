"""An innsync worker process running Octorate's booking-push pass, that can SIGKILL itself.

``python -m tests.channels.octorate_push_worker DATABASE_URL SECRET_KEY CRASH_AT NOW``

``CRASH_AT`` is ``pushed`` (the process dies the instant the first reservation push's answer
is back from the simulator, which has stored the reservation, before innsync reads or records
it) or ``none`` (one push pass, then exit 0). ``NOW`` (ISO 8601): the process's clock stands
still there, as the test's clock does (the simulator reads the test's), so the lease it takes
ends exactly where the test computes it. The marketplace's app comes
from innsync's settings, ``INNSYNC_OCTORATE_*`` in the environment, as in ``innsync worker``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import datetime
from typing import Any

import httpx

import innsync.schema  # noqa: F401  (every table, for the foreign keys)
from innsync.channels.octorate import OctorateAdapter, OctorateConfig, app_of
from innsync.connections.configs import effective_config
from innsync.connections.credentials import DatabaseCredentialStore
from innsync.crypto import SecretBox
from innsync.db.engine import build_engine, session_factory
from innsync.db.personal import install_keys
from innsync.settings import Settings
from innsync.sync.bookings import push_due_bookings


class DieAfterPush(httpx.AsyncBaseTransport):
    """Passes calls on; SIGKILLs the process once a reservation push has been answered."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.method == "POST" and "/reservation/" in request.url.path:
            os.kill(os.getpid(), signal.SIGKILL)
        return response


async def main(database_url: str, key: str, crash_at: str, now: datetime) -> None:
    sessions = session_factory(build_engine(database_url))
    box = SecretBox([key])
    install_keys(box)  # the guest's name is personal data, encrypted under the run's key
    app = app_of(Settings(database_url=database_url))

    def clock() -> datetime:
        return now

    transport = DieAfterPush() if crash_at == "pushed" else httpx.AsyncHTTPTransport()
    async with httpx.AsyncClient(transport=transport, timeout=30) as http:

        def adapter_for(connection: Any) -> OctorateAdapter:
            config = OctorateConfig.model_validate(effective_config(connection, box))
            store = DatabaseCredentialStore(sessions, box, connection.id, now=clock)
            return OctorateAdapter(config, app, http, credentials=store, now=clock)

        await push_due_bookings(sessions, adapter_for, clock=clock)


if __name__ == "__main__":
    url, key, crash_at, now = sys.argv[1:5]
    asyncio.run(main(url, key, crash_at, datetime.fromisoformat(now)))

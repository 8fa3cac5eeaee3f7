"""A sync worker process for multi-process tests: ``python -m tests.sync.worker_process``.

Arguments: database URL, the remote fake channel's base URL, this worker's name, lease seconds.
It runs until killed.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta

import httpx

from innsync.db.engine import build_engine, session_factory
from innsync.sync.worker import SyncWorker
from tests.sync.remote_fake import RemoteFakeAdapter, connection_code


async def main(database_url: str, base_url: str, holder: str, lease_seconds: float) -> None:
    sessions = session_factory(build_engine(database_url))
    async with httpx.AsyncClient(timeout=10) as http:
        worker = SyncWorker(
            sessions,
            lambda connection: RemoteFakeAdapter(
                base_url, connection_code(connection.id), holder, http
            ),
            holder=holder,
            lease=timedelta(seconds=lease_seconds),
            buckets_per_pass=2,
        )
        await worker.run(asyncio.Event(), idle_seconds=0.05)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])))

"""Webhook load generator, run as its own process: ``python -m innsync_bench.webhook_load``.

Posts fake-channel booking revisions (each body unique) to one ``/hooks/{token}`` URL over many
keep-alive connections, either as fast as the answers come (closed loop, ``--rate 0``) or at a
fixed rate (open loop). Writes a JSON file: per acknowledged webhook the SHA-256 of its body,
the latency of every call, error counts, and the process's CPU time (to show whether the
generator itself was the limit).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

SECRET_HEADER = "x-innsync-fake-secret"  # noqa: S105  (a header name)


def revision_body(sequence: int, run: str) -> bytes:
    """One fake-channel revision (channels/fake/adapter.py documents the shape), unique."""
    booking = f"BENCH-{run}-{sequence}"
    return json.dumps(
        {
            "booking_id": booking,
            "revision_id": f"{booking}-1",
            "status": "new",
            "revised_at": "2026-05-01T10:00:00Z",
            "arrival": "2026-06-01",
            "departure": "2026-06-03",
            "currency": "EUR",
            "total": "240.00",
            "guest": {"name": "Ada Lovelace", "email": f"ada+{sequence}@example.com"},
            "rooms": [
                {
                    "room_type": "DBL",
                    "rate_plan": "BAR",
                    "occupancy": 2,
                    "prices": {"2026-06-01": "120.00", "2026-06-02": "120.00"},
                }
            ],
        }
    ).encode()


async def generate(
    url: str, secret: str, seconds: float, concurrency: int, rate: float
) -> dict[str, Any]:
    run = uuid.uuid4().hex[:8]
    acked: list[str] = []
    latencies: list[float] = []
    failures: dict[str, int] = {}
    sequence = 0
    # Idle connections are dropped before uvicorn's 5-s keep-alive ends (no reuse race).
    limits = httpx.Limits(
        max_connections=concurrency, max_keepalive_connections=concurrency, keepalive_expiry=2.0
    )
    headers = {SECRET_HEADER: secret, "content-type": "application/json"}
    started = time.monotonic()
    cpu_started = time.process_time()
    deadline = started + seconds

    async with httpx.AsyncClient(limits=limits, timeout=30, headers=headers) as client:

        async def post_one() -> None:
            nonlocal sequence
            sequence += 1
            body = revision_body(sequence, run)
            sent = time.perf_counter()
            try:
                response = await client.post(url, content=body)
            except httpx.HTTPError as exc:
                failures[type(exc).__name__] = failures.get(type(exc).__name__, 0) + 1
                return
            latencies.append(time.perf_counter() - sent)
            if response.status_code == 200 and response.json().get("status") == "stored":
                acked.append(hashlib.sha256(body).hexdigest())
            else:
                key = str(response.status_code)
                failures[key] = failures.get(key, 0) + 1

        if rate <= 0:

            async def connection_loop() -> None:
                while time.monotonic() < deadline:
                    await post_one()

            await asyncio.gather(*(connection_loop() for _ in range(concurrency)))
        else:
            gate = asyncio.Semaphore(concurrency)
            tasks: set[asyncio.Task[None]] = set()

            async def gated() -> None:
                async with gate:
                    await post_one()

            count = 0
            while True:
                due = started + count / rate
                if due >= deadline:
                    break
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                task = asyncio.create_task(gated())
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                count += 1
            await asyncio.gather(*tasks)
    return {
        "seconds": time.monotonic() - started,
        "cpu_seconds": time.process_time() - cpu_started,
        "acked": acked,
        "latencies": latencies,
        "failures": failures,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rate", type=float, default=0.0, help="calls/s; 0 = closed loop")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    result = asyncio.run(generate(args.url, args.secret, args.seconds, args.concurrency, args.rate))
    args.out.write_text(json.dumps(result))


if __name__ == "__main__":
    main()

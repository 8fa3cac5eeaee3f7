"""The Channex simulator as a benchmark process: ``python -m innsync_bench.simulator_server``.

Unlike ``innsync simulate channex`` it takes the ARI rate limit (baselines are sent unthrottled)
and the request-log size as arguments, and with ``--record-ari`` it keeps the body and arrival
time of every accepted ARI write, served at ``GET /_bench/ari``, so a benchmark can tell when a
particular value reached the channel. The simulator itself is unchanged.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import uvicorn
from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from innsync.simulators.channex import SimulatorConfig, create_app

API_KEY = "bench-channex-key"
ARI_PATHS = ("/api/v1/availability", "/api/v1/restrictions")


class AriRecorder:
    """ASGI middleware keeping (arrival time, path, values) of every ARI write answered 200."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.writes: list[dict[str, Any]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope["path"])
        if path == "/_bench/ari":
            await _json(send, {"data": self.writes})
            return
        if scope["method"] != "POST" or path not in ARI_PATHS:
            await self.app(scope, receive, send)
            return
        arrived_at = time.time()
        chunks: list[bytes] = []
        status = 500

        async def keep(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        async def tee() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                chunks.append(message.get("body", b""))
            return message

        await self.app(scope, tee, keep)
        if status == 200:
            values = json.loads(b"".join(chunks)).get("values", [])
            self.writes.append({"at": arrived_at, "path": path, "values": values})


async def _json(send: Send, payload: Any) -> None:
    body = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def build(calls_per_minute: int, log_size: int, *, record_ari: bool) -> ASGIApp:
    app: FastAPI = create_app(
        SimulatorConfig(
            api_keys=(API_KEY,),
            seed=7,
            ari_calls_per_minute=calls_per_minute,
            request_log_size=log_size,
            pump_interval_seconds=None,
        )
    )
    return AriRecorder(app) if record_ari else app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--calls-per-minute", type=int, default=10)
    parser.add_argument("--log-size", type=int, default=10_000)
    parser.add_argument("--record-ari", action="store_true")
    args = parser.parse_args()
    uvicorn.run(
        build(args.calls_per_minute, args.log_size, record_ari=args.record_ari),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()

"""The minimal durable acknowledgement this machine can do: the yardstick of webhook_ingest.

A raw ASGI app (no framework, no verification, no encryption) under uvicorn: ``POST`` any path
stores the body and its SHA-256 in one table, with group commit (one writer thread takes every
body queued while it committed the previous group), and answers ``{"status": "stored"}`` only
after the commit returned. SQLite in WAL mode with ``synchronous=FULL``, or PostgreSQL (its
defaults: ``synchronous_commit=on``). ``GET /ping`` answers at once, without the database: the
trivial endpoint that shows what the load generator and HTTP alone can do.

Run: ``PROBE_DATABASE=sqlite:////tmp/p.sqlite3 python -m uvicorn --http httptools
innsync_bench.ack_probe:app`` (``webhook_ingest`` passes the parser ``innsync serve`` uses,
``api.server.HTTP_PARSER``, so both sides do the same HTTP work).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import queue
import sqlite3
import threading
from collections.abc import Callable
from typing import Any

import psycopg

# Bodies per transaction at most: what 64+ connections can have queued while one commits.
MAX_GROUP = 512
Pending = tuple[bytes, asyncio.Future[None], asyncio.AbstractEventLoop]
_STORED = b'{"status":"stored"}'
_OK = b'{"status":"ok"}'


class _Writer:
    """One thread that inserts queued bodies in groups and resolves their futures after COMMIT."""

    def __init__(self, url: str) -> None:
        self.queue: queue.SimpleQueue[Pending] = queue.SimpleQueue()
        self._url = url
        self._thread = threading.Thread(target=self._run, daemon=True, name="probe-writer")

    def start(self) -> None:
        self._thread.start()

    def _connect(self) -> tuple[Any, Callable[[list[tuple[str, bytes]]], None]]:
        if self._url.startswith("sqlite:///"):
            connection = sqlite3.connect(self._url.removeprefix("sqlite:///"), isolation_level=None)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=FULL")
            connection.execute(
                "CREATE TABLE IF NOT EXISTS probe_items "
                "(id INTEGER PRIMARY KEY, key TEXT UNIQUE NOT NULL, body BLOB NOT NULL)"
            )

            def write_sqlite(rows: list[tuple[str, bytes]]) -> None:
                connection.execute("BEGIN IMMEDIATE")
                connection.executemany(
                    "INSERT INTO probe_items (key, body) VALUES (?, ?) ON CONFLICT DO NOTHING", rows
                )
                connection.execute("COMMIT")

            return connection, write_sqlite
        pg = psycopg.connect(self._url)
        pg.execute(
            "CREATE TABLE IF NOT EXISTS probe_items "
            "(id BIGSERIAL PRIMARY KEY, key TEXT UNIQUE NOT NULL, body BYTEA NOT NULL)"
        )
        pg.commit()

        def write_postgres(rows: list[tuple[str, bytes]]) -> None:
            with pg.cursor() as cursor:
                cursor.executemany(
                    "INSERT INTO probe_items (key, body) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                    rows,
                )
            pg.commit()

        return pg, write_postgres

    def _run(self) -> None:
        _, write = self._connect()
        while True:
            group = [self.queue.get()]
            while len(group) < MAX_GROUP:
                try:
                    group.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            write([("sha256:" + hashlib.sha256(body).hexdigest(), body) for body, _, _ in group])
            for _, future, loop in group:
                loop.call_soon_threadsafe(_resolve, future)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


_writer = _Writer(os.environ.get("PROBE_DATABASE", "sqlite:///probe.sqlite3"))


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                _writer.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["method"] != "POST":
        await _answer(send, _OK)
        return
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    loop = asyncio.get_running_loop()
    future: asyncio.Future[None] = loop.create_future()
    _writer.queue.put((b"".join(chunks), future, loop))
    await future
    await _answer(send, _STORED)


async def _answer(send: Any, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})

"""CPU per webhook acknowledgement, in process, A/B: ``python -m innsync_bench.webhook_ab``.

``webhook_ingest`` measures the whole machine (load generator, server processes, database) and
is slow and noisy on a shared one; this measures only what the server spends per acknowledged
``POST /hooks/{token}``: each variant runs in a worker process of its own (its own SQLite file,
app and event loop, the heap settled as ``innsync serve`` settles it), ``CONCURRENCY`` webhooks
at a time, and the figure is that process's CPU time (``time.process_time``: the event loop and
the group commit's threads) per acknowledgement. Rounds alternate between the variants, so a
change in the machine's load falls on all of them alike; the medians are printed.

A variant is ``VIA`` or ``VIA@SRC``. ``VIA`` is ``asgi`` (the app called directly) or ``serve``
(the server's protocol class, as ``innsync serve`` configures it, fed raw HTTP/1.1 requests
over an in-memory transport: the HTTP parser is counted, the kernel's socket work is not).
``SRC`` is another checkout's ``src`` directory, to compare this commit with another one::

    git -C /work/main archive HEAD src | tar -x -C /tmp/base
    python -m innsync_bench.webhook_ab serve@/tmp/base/src serve

``--postgres SERVER`` (e.g. ``postgresql://postgres@127.0.0.1:5432``) gives each variant a
private PostgreSQL database on that server instead of a SQLite file.

``--profile FILE`` runs the first variant alone under cProfile and prints its heaviest functions
(the event loop's thread into ``FILE``, the group commit's transactions into ``FILE.writer``).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from innsync_bench.webhook_load import SECRET_HEADER, revision_body

# Keep-alive connections (or concurrent ASGI calls): as webhook_ingest's load generator.
CONCURRENCY = 64
# Calls per connection per round: 1,024 acknowledgements, a second or two of CPU.
CALLS_PER_CONNECTION = 16
HOST = ("127.0.0.1", 8000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("variants", nargs="*", default=["serve"], help="VIA[@SRC], VIA: asgi|serve")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=CALLS_PER_CONNECTION, help="per connection")
    parser.add_argument("--profile", type=Path, help="cProfile the first variant into FILE")
    parser.add_argument("--postgres", help="a PostgreSQL server (no database) instead of SQLite")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        asyncio.run(_work(args.worker, args.calls, args.profile, args.postgres))
        return
    workers = [
        _start(variant, args.calls, args.profile, args.postgres) for variant in args.variants
    ]
    if args.profile:
        workers = workers[:1]
    figures: list[list[float]] = [[] for _ in workers]
    rates: list[list[float]] = [[] for _ in workers]
    try:
        for _ in range(args.rounds):
            for index, worker in enumerate(workers):
                cpu, rate = _round(worker)
                figures[index].append(cpu)
                rates[index].append(rate)
    finally:
        for worker in workers:
            worker.stdin.close()  # type: ignore[union-attr]
            worker.wait(timeout=60)
    for variant, values, rated in zip(args.variants, figures, rates, strict=False):
        shown = " ".join(f"{value:.3f}" for value in values)
        median, rate = statistics.median(values), statistics.median(rated)
        sys.stdout.write(
            f"{variant}: median {median:.3f} ms CPU/ack, {rate:.0f} acks/s of wall time "
            f"(rounds: {shown})\n"
        )


def _start(
    variant: str, calls: int, profile: Path | None, postgres: str | None
) -> subprocess.Popen[str]:
    via, _, src = variant.partition("@")
    env = dict(os.environ)
    if src:  # ahead of the installed package: that checkout's innsync, this bench module
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "innsync_bench.webhook_ab", "--worker", via]
    command += ["--calls", str(calls)]
    if profile is not None:
        command += ["--profile", str(profile)]
    if postgres is not None:
        command += ["--postgres", postgres]
    return subprocess.Popen(  # noqa: S603  (our own interpreter and module)
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
    )


def _round(worker: subprocess.Popen[str]) -> tuple[float, float]:
    """One round of the worker: its CPU per acknowledgement and its rate (wall time)."""
    assert worker.stdin is not None
    assert worker.stdout is not None
    worker.stdin.write("round\n")
    worker.stdin.flush()
    answer = json.loads(worker.stdout.readline())
    if answer["failures"]:
        raise SystemExit(f"calls failed: {answer['failures']}")
    return float(answer["cpu_ms_per_ack"]), float(answer["acks_per_second"])


async def _work(via: str, calls: int, profile: Path | None, postgres: str | None) -> None:
    """One variant: set up, then one round per line read from stdin, one JSON line out each."""
    from innsync.api.app import create_app
    from innsync.crypto import SecretBox, generate_key
    from innsync.db.personal import install_keys
    from innsync.settings import Settings
    from innsync_bench.databases import postgres_database, sqlite_database
    from innsync_bench.webhook_ingest import setup_connections

    with (
        tempfile.TemporaryDirectory() as workdir,
        (
            postgres_database(postgres, "ab") if postgres else sqlite_database(Path(workdir), "ab")
        ) as opened,
    ):
        url, engine = opened
        box = SecretBox([generate_key()])
        install_keys(box)
        made, secret = setup_connections(engine, box)
        path = made[0][1]
        settings = Settings(database_url=url, background_loops=False)
        app = create_app(settings, engine=engine, secret_box=box, run_loops=False)
        caller = _Caller(via, app, settings, path, secret)
        await caller.calls(caller.bodies(CONCURRENCY))  # warm: receiver built, statements compiled
        gc.collect()
        gc.freeze()  # as ``innsync serve`` does before it takes requests
        profiler = cProfile.Profile() if profile is not None else None
        writer = _profile_group_commit() if profile is not None else None
        loop = asyncio.get_running_loop()
        while await loop.run_in_executor(None, sys.stdin.readline):
            bodies = caller.bodies(CONCURRENCY * calls)  # before the clock: the caller's work
            if profiler is not None:
                profiler.enable()
            started, wall = time.process_time(), time.perf_counter()
            statuses = await caller.calls(bodies)
            spent, wall = time.process_time() - started, time.perf_counter() - wall
            if profiler is not None:
                profiler.disable()
            failures = len(statuses) - statuses.count(200)
            answer = {
                "cpu_ms_per_ack": 1000 * spent / len(statuses),
                "acks_per_second": len(statuses) / wall,
                "failures": failures,
            }
            sys.stdout.write(json.dumps(answer) + "\n")
            sys.stdout.flush()
        if profiler is not None and writer is not None and profile is not None:
            for profiled, out in ((profiler, profile), (writer, profile.with_suffix(".writer"))):
                profiled.dump_stats(out)
                stats = pstats.Stats(str(out), stream=sys.stderr)
                stats.sort_stats("tottime").print_stats(30)
                stats.sort_stats("cumulative").print_stats(40)


def _profile_group_commit() -> cProfile.Profile:
    """A profile of the group commit's transactions, which run in pool threads (cProfile
    sees one thread: the event loop's is the other profile). One at a time on SQLite."""
    from innsync.inbox.ingress import GroupCommit

    profiler = cProfile.Profile()
    # ``_write`` since the writers take their batch in the transaction; ``write`` before.
    name = "_write" if hasattr(GroupCommit, "_write") else "write"
    write = getattr(GroupCommit, name)

    def profiled(self: GroupCommit, *args: Any) -> Any:
        profiler.enable()
        try:
            return write(self, *args)
        finally:
            profiler.disable()

    setattr(GroupCommit, name, profiled)
    return profiler


class _Caller:
    """Makes webhook calls to the app, directly (``asgi``) or through the server's protocol."""

    def __init__(self, via: str, app: Any, settings: Any, path: str, secret: str) -> None:
        self.via = via
        self.app = app
        self.path = path
        self.secret = secret
        self.run = uuid.uuid4().hex[:8]
        self.sequence = 0
        if via == "serve":
            from innsync.api.server import server_config

            self.config = server_config(app, settings, *HOST)
            self.config.load()  # wraps the app as uvicorn does (proxy headers)
        elif via != "asgi":
            raise SystemExit(f"unknown variant {via!r}: asgi or serve")

    def bodies(self, count: int) -> list[list[bytes]]:
        """``count`` unique bodies, dealt to ``CONCURRENCY`` connections."""
        made = []
        for _ in range(count):
            self.sequence += 1
            made.append(revision_body(self.sequence, self.run))
        return [made[start::CONCURRENCY] for start in range(CONCURRENCY)]

    async def calls(self, bodies: list[list[bytes]]) -> list[int]:
        connect = self._asgi_connection if self.via == "asgi" else self._http_connection
        results = await asyncio.gather(*(connect(dealt) for dealt in bodies))
        return [status for statuses in results for status in statuses]

    async def _asgi_connection(self, bodies: list[bytes]) -> list[int]:
        statuses = []
        for body in bodies:
            headers = [
                (b"host", b"127.0.0.1:8000"),
                (SECRET_HEADER.encode(), self.secret.encode()),
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ]
            scope = {
                "type": "http",
                "asgi": {"version": "3.0", "spec_version": "2.3"},
                "http_version": "1.1",
                "server": HOST,
                "client": ("127.0.0.1", 40000),
                "scheme": "http",
                "method": "POST",
                "root_path": "",
                "path": self.path,
                "raw_path": self.path.encode(),
                "query_string": b"",
                "headers": headers,
                "state": {},
            }
            messages = [{"type": "http.request", "body": body, "more_body": False}]
            answer: dict[str, Any] = {}

            async def receive(pending: list[dict[str, Any]] = messages) -> dict[str, Any]:
                return pending.pop() if pending else {"type": "http.disconnect"}

            async def send(message: dict[str, Any], into: dict[str, Any] = answer) -> None:
                if message["type"] == "http.response.start":
                    into["status"] = message["status"]

            await self.app(scope, receive, send)
            statuses.append(answer.get("status", 0))
        return statuses

    async def _http_connection(self, bodies: list[bytes]) -> list[int]:
        from uvicorn.server import ServerState

        loop = asyncio.get_running_loop()
        protocol_class: Any = self.config.http_protocol_class
        protocol = protocol_class(
            config=self.config, server_state=ServerState(), app_state={}, _loop=loop
        )
        transport = _Transport(protocol)
        protocol.connection_made(transport)
        statuses = []
        for body in bodies:
            head = (
                f"POST {self.path} HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nAccept: */*\r\n"
                "Accept-Encoding: gzip, deflate\r\nConnection: keep-alive\r\n"
                f"User-Agent: python-httpx/0.28\r\n{SECRET_HEADER}: {self.secret}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            )
            answered = transport.expect_answer()
            protocol.data_received(head.encode() + body)
            statuses.append(await answered)
        transport.close()
        return statuses


class _Transport(asyncio.Transport):
    """A connection in memory: takes what the protocol writes and reports each whole answer."""

    def __init__(self, protocol: asyncio.Protocol) -> None:
        super().__init__()
        self._protocol = protocol
        self._closing = False
        self._written = b""
        self._answer: asyncio.Future[int] | None = None

    def expect_answer(self) -> asyncio.Future[int]:
        self._answer = asyncio.get_running_loop().create_future()
        return self._answer

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 40000), "sockname": HOST}.get(name, default)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._written += bytes(data)
        end = self._written.find(b"\r\n\r\n")
        if end < 0 or self._answer is None:
            return
        head = self._written[:end].decode("latin-1").lower()
        length = next(
            int(line.split(":", 1)[1])
            for line in head.split("\r\n")
            if line.startswith("content-length:")
        )
        if len(self._written) >= end + 4 + length:
            self._written = self._written[end + 4 + length :]
            self._answer.set_result(int(head.split(" ", 2)[1]))
            self._answer = None

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        if not self._closing:
            self._closing = True
            self._protocol.connection_lost(None)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


if __name__ == "__main__":
    main()

"""The HTTP server's configuration: time limits and connection caps (``innsync serve``).

uvicorn closes idle keep-alive connections (``timeout_keep_alive``) and answers 503 past
``limit_concurrency`` open connections, but has no limit on how long a client may take to
send its request headers: a client that opens connections and never finishes a request
(slowloris) would hold a file descriptor each, forever, and, past ``limit_concurrency``, get
every other client a 503. The protocols below close a connection whose request headers are
not complete ``header_timeout`` seconds after it opened or after its previous answer, and
drops a new connection at once when its address already holds ``per_address`` of them, so
one client cannot fill the process's connection cap. Body time-outs are the app's
(``api.body_guard``): they apply whoever serves the app.

The HTTP/1.1 parser is httptools (C, llhttp) where it is installed, else h11 (pure Python):
with h11, parsing a webhook's request and writing its answer cost about as much CPU as the
rest of its acknowledgement (``docs/benchmarks.md``, webhook_ingest). Both get the same limits.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import multiprocessing
import multiprocessing.process
import signal
import socket
import time
from abc import ABC, abstractmethod
from typing import ClassVar, cast

import h11
import uvicorn
from starlette.types import ASGIApp
from uvicorn.protocols.http.h11_impl import H11Protocol

from innsync.settings import Settings

logger = logging.getLogger(__name__)
# How long server processes get to finish their requests when stopped; then they are killed.
# Shorter than the 10 s a supervisor (or the benchmarks) gives the parent before its SIGKILL,
# which would leave the processes running.
STOP_SECONDS = 8.0


class _Guard(ABC):
    """The header time-out and per-address cap, over either of uvicorn's HTTP/1.1 protocols.

    Mixed in ahead of the protocol class: its hooks run, then hand over to the protocol's own
    (``super()`` is the protocol). The protocol subclass tells it when a request's headers are
    all in; what "waiting for headers" means is the protocol's.
    """

    header_timeout: float = 10.0
    per_address: int = 0  # 0: no cap
    # Open connections per peer address, shared by the connections of one server (each
    # ``guarded_protocol`` class has its own).
    open_by_address: ClassVar[dict[str, int]] = {}
    _header_timer: asyncio.TimerHandle | None = None
    _counted: str | None = None
    # Provided by the protocol classes this is mixed into.
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    client: tuple[str, int] | None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        self._admit(cast(asyncio.Transport, transport))  # a stream server's transport

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]
        if not self.transport.is_closing() and self._awaiting_headers():
            self._await_headers()  # the next request on this connection gets the same limit

    def connection_lost(self, exc: Exception | None) -> None:
        self._release()
        super().connection_lost(exc)  # type: ignore[misc]

    def _admit(self, transport: asyncio.Transport) -> None:
        """Count the new connection, or drop it when its address holds its share already."""
        address = self.client[0] if self.client else ""
        held = self.open_by_address.get(address, 0)
        if 0 < self.per_address <= held:
            transport.abort()  # no answer: it would cost what the cap is there to save
            return
        self.open_by_address[address] = held + 1
        self._counted = address
        self._await_headers()

    def _release(self) -> None:
        self._stop_waiting()
        if self._counted is not None:
            left = self.open_by_address.pop(self._counted) - 1
            if left:
                self.open_by_address[self._counted] = left
            self._counted = None

    def _await_headers(self) -> None:
        self._stop_waiting()
        self._header_timer = self.loop.call_later(self.header_timeout, self._too_slow)

    def _stop_waiting(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _too_slow(self) -> None:
        self._header_timer = None
        if self._awaiting_headers() and not self.transport.is_closing():
            self.transport.close()

    @abstractmethod
    def _awaiting_headers(self) -> bool:
        """Whether the connection waits for a request's headers (the protocol's to tell)."""


class GuardedProtocol(_Guard, H11Protocol):
    """uvicorn's h11 protocol with a header time-out and a per-address connection cap."""

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._stop_waiting()  # the headers are in (or the connection has failed)

    def _awaiting_headers(self) -> bool:
        return self.conn.their_state is h11.IDLE


try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # a dependency, but one without a wheel for every platform: h11 serves then
    HTTP_PARSER = "h11"
else:
    HTTP_PARSER = "httptools"

    class GuardedHttpToolsProtocol(_Guard, HttpToolsProtocol):
        """uvicorn's httptools protocol with the same header time-out and per-address cap.

        httptools calls ``on_headers_complete`` once a request's headers are all in;
        pipelined requests wait in ``pipeline`` with their headers complete.
        """

        def on_headers_complete(self) -> None:
            self._stop_waiting()
            super().on_headers_complete()

        def _awaiting_headers(self) -> bool:
            # The latest request's answer is complete and no pipelined one waits: the next
            # request's headers, if any have come, are not complete yet.
            return (self.cycle is None or self.cycle.response_complete) and not self.pipeline


def guarded_protocol(
    header_timeout: float, per_address: int, parser: str | None = None
) -> type[asyncio.Protocol]:
    """The protocol class with its limits set (uvicorn builds one instance per connection).

    ``parser``: ``"httptools"`` or ``"h11"``; by default ``HTTP_PARSER``.
    """
    parser = parser or HTTP_PARSER
    if parser not in ("h11", HTTP_PARSER):
        raise ValueError(f"HTTP parser {parser!r} is not available")
    base: type[_Guard] = GuardedProtocol if parser == "h11" else GuardedHttpToolsProtocol
    limits = {"header_timeout": header_timeout, "per_address": per_address, "open_by_address": {}}
    return type(base.__name__, (base,), limits)


def server_config(
    app: ASGIApp, settings: Settings, host: str, port: int, parser: str | None = None
) -> uvicorn.Config:
    """uvicorn's configuration with innsync's time limits and connection cap (``parser``: as
    ``guarded_protocol``'s)."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        http=guarded_protocol(
            settings.http_header_timeout_seconds, settings.http_connections_per_address, parser
        ),
        timeout_keep_alive=settings.http_keep_alive_seconds,
        limit_concurrency=settings.http_max_concurrency,
    )


def serve_processes(settings: Settings, host: str, port: int, workers: int) -> None:
    """Run ``workers`` server processes on one listening socket (``innsync serve --workers``).

    The socket is bound here and inherited by each process (the kernel hands each new
    connection to one of them). Background loops run in every process on PostgreSQL and
    MariaDB, where they already share their work through leases; on SQLite only in process 0,
    since every process there queues on the one write lock. A process that dies is started
    again; SIGTERM or SIGINT stops them all.
    """
    listener = listening_socket(host, port)
    loops_everywhere = not settings.database_url.startswith("sqlite")
    context = multiprocessing.get_context("spawn")  # no forked engine, loop or thread state
    stopping = False

    def start(index: int) -> multiprocessing.process.BaseProcess:
        loops = settings.background_loops and (loops_everywhere or index == 0)
        process = context.Process(
            target=_serve_one,
            args=(listener, host, port, loops, workers),
            name=f"innsync-serve-{index}",
        )
        process.start()
        return process

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    processes = [start(index) for index in range(workers)]
    try:
        while not stopping:
            time.sleep(0.5)
            for index, process in enumerate(processes):
                if not process.is_alive() and not stopping:
                    logger.warning(
                        "server process exited; starting it again",
                        extra={"process": index, "exit_code": process.exitcode},
                    )
                    processes[index] = start(index)
    finally:
        for process in processes:
            process.terminate()  # SIGTERM: uvicorn finishes the requests in flight
        deadline = time.monotonic() + STOP_SECONDS
        for process in processes:
            process.join(timeout=max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        listener.close()


def listening_socket(host: str, port: int) -> socket.socket:
    """The port, bound and listening, for the processes of ``serve_processes`` to inherit.

    ``IPPROTO_TCP`` is spelled out: asyncio sets ``TCP_NODELAY`` only on accepted sockets
    whose protocol says TCP, and with the default (0) Nagle's algorithm stayed on. An answer
    is written as its headers, then its body, and the body waited for the client's delayed
    ACK: about 40 ms on every request with ``--workers`` > 1 (``docs/benchmarks.md``,
    webhook_ingest: 1,200 acknowledgements/s instead of 3,400).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.listen(2048)
    listener.set_inheritable(True)
    return listener


def settle_heap() -> None:
    """Put what start-up made (modules, the app, its templates) out of the collector's reach.

    It lives as long as the process, yet every full collection walked it again: a large page
    (the admin calendar of 200 plans, ``innsync bench admin_calendar``) took 680 ms instead of
    about 310 at its 95th percentile. Called once, just before the server takes requests."""
    gc.collect()
    gc.freeze()


def _serve_one(
    listener: socket.socket, host: str, port: int, run_loops: bool, processes: int
) -> None:
    """One server process of ``serve_processes`` (its own engine, app and event loop)."""
    from innsync.api.app import create_app  # here: the parent process never builds an app
    from innsync.logging import configure_logging
    from innsync.settings import get_settings

    settings = get_settings()
    configure_logging(settings.log_level, as_json=settings.log_json)
    app = create_app(settings, run_loops=run_loops, server_processes=processes)
    settle_heap()
    uvicorn.Server(server_config(app, settings, host, port)).run(sockets=[listener])

"""The HTTP server's configuration: time limits and connection caps (``innsync serve``).

uvicorn closes idle keep-alive connections (``timeout_keep_alive``) and answers 503 past
``limit_concurrency`` open connections, but has no limit on how long a client may take to
send its request headers: a client that opens connections and never finishes a request
(slowloris) would hold a file descriptor each, forever, and, past ``limit_concurrency``, get
every other client a 503. The protocol below closes a connection whose request headers are
not complete ``header_timeout`` seconds after it opened or after its previous answer, and
drops a new connection at once when its address already holds ``per_address`` of them, so
one client cannot fill the process's connection cap. Body time-outs are the app's
(``api.body_guard``): they apply whoever serves the app.
"""

from __future__ import annotations

import asyncio
from typing import ClassVar

import h11
import uvicorn
from starlette.types import ASGIApp
from uvicorn.protocols.http.h11_impl import H11Protocol

from innsync.settings import Settings


class GuardedProtocol(H11Protocol):
    """uvicorn's h11 protocol with a header time-out and a per-address connection cap."""

    header_timeout: float = 10.0
    per_address: int = 0  # 0: no cap
    # Open connections per peer address, shared by the connections of one server (each
    # ``guarded_protocol`` class has its own).
    open_by_address: ClassVar[dict[str, int]] = {}
    _header_timer: asyncio.TimerHandle | None = None
    _counted: str | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        address = self.client[0] if self.client else ""
        held = self.open_by_address.get(address, 0)
        if 0 < self.per_address <= held:
            transport.abort()  # no answer: it would cost what the cap is there to save
            return
        self.open_by_address[address] = held + 1
        self._counted = address
        self._await_headers()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._stop_waiting()  # the headers are in (or the connection has failed)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self._await_headers()  # the next request on this connection gets the same limit

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_waiting()
        if self._counted is not None:
            left = self.open_by_address.pop(self._counted) - 1
            if left:
                self.open_by_address[self._counted] = left
            self._counted = None
        super().connection_lost(exc)

    def _await_headers(self) -> None:
        self._stop_waiting()
        self._header_timer = self.loop.call_later(self.header_timeout, self._too_slow)

    def _stop_waiting(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _too_slow(self) -> None:
        self._header_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()


def guarded_protocol(header_timeout: float, per_address: int) -> type[GuardedProtocol]:
    """The protocol class with its limits set (uvicorn builds one instance per connection)."""
    limits = {"header_timeout": header_timeout, "per_address": per_address, "open_by_address": {}}
    return type("GuardedProtocol", (GuardedProtocol,), limits)


def server_config(app: ASGIApp, settings: Settings, host: str, port: int) -> uvicorn.Config:
    """uvicorn's configuration with innsync's time limits and connection cap."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        http=guarded_protocol(
            settings.http_header_timeout_seconds, settings.http_connections_per_address
        ),
        timeout_keep_alive=settings.http_keep_alive_seconds,
        limit_concurrency=settings.http_max_concurrency,
    )

"""Credential refresh through the adapter context: a tiny token channel whose tokens expire, and
the database-backed store shared by "processes" (separate engines on one database)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker

from innsync.channels import registry
from innsync.channels.config import ChannelConfig
from innsync.channels.credentials import Credential, InMemoryCredentialStore, TokenKeeper
from innsync.channels.errors import ChannelAuthError
from innsync.channels.http import ChannelHttp
from innsync.channels.registry import AdapterContext, ChannelKind
from innsync.channels.types import ChannelLimits
from innsync.connections import service
from innsync.connections.credentials import (
    REFRESH_LEASE,
    ChannelCredential,
    DatabaseCredentialStore,
)
from innsync.connections.models import Connection
from innsync.crypto import SecretBox
from innsync.db.engine import build_engine, session_factory, transaction
from tests.inbound.builders import make_hotel

START = datetime(2030, 5, 1, 8, 0, tzinfo=UTC)
TOKEN_LIFETIME = timedelta(hours=1)
CLIENT_SECRET = "client-secret-1"


@dataclass
class Clock:
    moment: datetime = START

    def __call__(self) -> datetime:
        return self.moment

    async def sleep(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)
        await asyncio.sleep(0)


@dataclass
class TokenServer:
    """The channel: issues tokens (slowly, so refreshers overlap) and serves data with them."""

    issued: list[str | None] = field(default_factory=list)
    """The refresh token presented with each token call, in order."""
    revoked: set[str] = field(default_factory=set)
    clock: Clock = field(default_factory=Clock)
    data_calls: list[str] = field(default_factory=list)

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/token":
            presented = json.loads(request.content).get("refresh_token")
            self.issued.append(presented)
            number = len(self.issued)
            # Long enough that a second refresher, if not held back, would call too.
            await asyncio.sleep(0.05)
            return httpx.Response(
                200,
                json={
                    "access_token": f"access-{number}",
                    "refresh_token": f"refresh-{number}",
                    "expires_at": (self.clock() + TOKEN_LIFETIME).isoformat(),
                },
            )
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        self.data_calls.append(token)
        if not token.startswith("access-") or token in self.revoked:
            return httpx.Response(401, json={"error": "invalid_token"})
        return httpx.Response(200, json={"ok": True})


class TokenConfig(ChannelConfig):
    client_id: str = "innsync"
    client_secret: SecretStr = SecretStr(CLIENT_SECRET)


class TokenAdapter:
    """An adapter of a channel that issues expiring tokens, written as a real one would be."""

    name = "token-test"
    limits = ChannelLimits(requests_per_window=100, window_seconds=60.0)

    def __init__(self, config: TokenConfig, context: AdapterContext) -> None:
        self._config = config
        self._http = ChannelHttp(
            context.http,
            channel="Tokentest",
            base_url="http://token.test",
            timeout=httpx.Timeout(5.0),
            auth_headers=self._auth,
        )
        self.keeper = TokenKeeper(context.credentials, "access", self._issue, now=context.now)

    async def _issue(self, current: Credential | None) -> Credential:
        answer = await self._http.json(
            "POST",
            "/token",
            body={
                "client_id": self._config.client_id,
                "client_secret": self._config.client_secret.get_secret_value(),
                "refresh_token": None if current is None else current.refresh_token,
            },
            authenticated=False,
        )
        return Credential(
            token=answer["access_token"],
            refresh_token=answer["refresh_token"],
            expires_at=datetime.fromisoformat(answer["expires_at"]),
        )

    async def _auth(self) -> dict[str, str]:
        return {"authorization": f"Bearer {await self.keeper.token()}"}

    async def test_connection(self) -> None:
        """One data call; a token refused mid-life is refreshed once and the call repeated."""
        try:
            await self._http.json("GET", "/data")
        except ChannelAuthError:
            await self.keeper.rejected(await self.keeper.token())
            await self._http.json("GET", "/data")


def _build(config: TokenConfig, context: AdapterContext) -> TokenAdapter:
    return TokenAdapter(config, context)


TOKEN_KIND: ChannelKind[TokenConfig] = ChannelKind(
    name="token-test", config_model=TokenConfig, build=_build, title="Token test"
)


@dataclass
class Process:
    """One innsync process: its own engine, sessions and HTTP client, on the shared database."""

    engine: Engine
    sessions: sessionmaker[Session]
    http: httpx.AsyncClient


@dataclass
class World:
    server: TokenServer
    box: SecretBox
    connection: Connection
    processes: list[Process]

    def adapter(self, process: int) -> TokenAdapter:
        """A fresh adapter of the connection in ``process``, on the server's clock."""
        context = AdapterContext(
            http=self.processes[process].http,
            now=self.server.clock,
            credentials=self.store(process),
        )
        return TokenAdapter(TokenConfig(), context)

    def store(self, process: int) -> DatabaseCredentialStore:
        return DatabaseCredentialStore(
            self.processes[process].sessions,
            self.box,
            self.connection.id,
            now=self.server.clock,
            sleep=self.server.clock.sleep,
        )


@pytest.fixture
def world(committed: Engine, secret_box: SecretBox) -> Iterator[World]:
    registry.register(TOKEN_KIND)
    server = TokenServer()
    base = session_factory(committed)
    with transaction(base) as session:
        hotel = make_hotel(session, secret_box, mapped=False)
        connection = session.get_one(Connection, hotel.connections[0])
        connection.channel = TOKEN_KIND.name
        connection.config_encrypted = secret_box.encrypt(TokenConfig().model_dump_json())
    processes = []
    for _ in range(2):
        engine = build_engine(committed.url.render_as_string(hide_password=False))
        http = httpx.AsyncClient(transport=httpx.MockTransport(server))
        processes.append(Process(engine, session_factory(engine), http))
    yield World(server, secret_box, connection, processes)
    for process in processes:
        asyncio.run(process.http.aclose())
        process.engine.dispose()


def _row(world: World) -> ChannelCredential:
    with transaction(world.processes[0].sessions) as session:
        row = session.scalars(
            select(ChannelCredential).where(ChannelCredential.connection_id == world.connection.id)
        ).one()
        session.expunge(row)
        return row


def test_two_processes_refreshing_at_once_make_one_token_call(world: World) -> None:
    first, second = world.adapter(0), world.adapter(1)

    async def both() -> None:
        await asyncio.gather(first.test_connection(), second.test_connection())

    asyncio.run(both())
    assert world.server.issued == [None]
    assert world.server.data_calls == ["access-1", "access-1"]


def test_the_token_is_persisted_encrypted(world: World) -> None:
    asyncio.run(world.adapter(0).test_connection())
    row = _row(world)
    assert row.secret_encrypted is not None
    assert "access-1" not in row.secret_encrypted
    assert "refresh-1" not in row.secret_encrypted
    assert json.loads(world.box.decrypt(row.secret_encrypted)) == {
        "token": "access-1",
        "refresh_token": "refresh-1",
        "expires_at": (START + TOKEN_LIFETIME).isoformat(),
    }
    assert row.expires_at == START + TOKEN_LIFETIME
    assert row.refresh_holder is None
    assert row.refresh_lease_until is None


def test_another_process_and_a_rebuilt_adapter_reuse_the_stored_token(world: World) -> None:
    asyncio.run(world.adapter(0).test_connection())
    asyncio.run(world.adapter(1).test_connection())
    asyncio.run(world.adapter(0).test_connection())
    assert world.server.issued == [None]
    assert world.server.data_calls == ["access-1"] * 3


def test_an_expiring_token_is_renewed_once_with_the_rotated_refresh_token(world: World) -> None:
    adapter = world.adapter(0)
    asyncio.run(adapter.test_connection())
    # Inside the refresh margin: renewed before it can expire in flight.
    world.server.clock.moment = START + TOKEN_LIFETIME - timedelta(seconds=60)
    asyncio.run(adapter.test_connection())
    asyncio.run(world.adapter(1).test_connection())
    assert world.server.issued == [None, "refresh-1"]
    assert world.server.data_calls == ["access-1", "access-2", "access-2"]


def test_a_revoked_token_is_refreshed_and_the_call_repeated(world: World) -> None:
    asyncio.run(world.adapter(0).test_connection())
    world.server.revoked.add("access-1")
    later = world.adapter(1)
    asyncio.run(later.test_connection())
    assert world.server.issued == [None, "refresh-1"]
    assert world.server.data_calls == ["access-1", "access-1", "access-2"]
    # The other process, still holding access-1 in memory, learns of access-2 from the store
    # after its own refusal, without another token call.
    asyncio.run(world.adapter(0).test_connection())
    assert world.server.issued == [None, "refresh-1"]


def test_a_crashed_holders_lease_runs_out_and_the_refresh_goes_ahead(world: World) -> None:
    store = world.store(0)

    async def issue(_: Credential | None) -> Credential:
        return Credential("access-after-crash", START + TOKEN_LIFETIME)

    asyncio.run(store.persist("access", Credential("old", START - timedelta(minutes=1))))
    with transaction(world.processes[1].sessions) as session:
        session.execute(
            update(ChannelCredential).values(
                refresh_holder="crashed", refresh_lease_until=START + REFRESH_LEASE
            )
        )
    renewed = asyncio.run(store.refresh("access", lambda c: c is None or c.token == "old", issue))
    assert renewed.token == "access-after-crash"
    # It waited for the crashed holder's lease, no longer.
    assert (
        START + REFRESH_LEASE <= world.server.clock() < START + REFRESH_LEASE + timedelta(seconds=1)
    )
    assert asyncio.run(world.store(1).load("access")) == renewed


def test_a_failed_refresh_frees_the_lease_and_keeps_the_old_token(world: World) -> None:
    store = world.store(0)
    old = Credential("old", START - timedelta(minutes=1), refresh_token="r-old")
    asyncio.run(store.persist("access", old))

    async def refuse(_: Credential | None) -> Credential:
        raise ChannelAuthError("the client secret was revoked")

    with pytest.raises(ChannelAuthError):
        asyncio.run(store.refresh("access", lambda _: True, refuse))
    row = _row(world)
    assert row.refresh_holder is None
    assert row.refresh_lease_until is None
    assert asyncio.run(world.store(1).load("access")) == old


def test_without_a_database_the_context_keeps_tokens_in_memory() -> None:
    server = TokenServer()
    http = httpx.AsyncClient(transport=httpx.MockTransport(server))
    context = AdapterContext(http=http, now=server.clock)
    assert isinstance(context.credentials, InMemoryCredentialStore)
    adapter = TokenAdapter(TokenConfig(), context)

    async def twice_at_once() -> Any:
        await asyncio.gather(adapter.test_connection(), adapter.test_connection())
        await TokenAdapter(TokenConfig(), context).test_connection()

    asyncio.run(twice_at_once())
    assert server.issued == [None]
    assert server.data_calls == ["access-1"] * 3


def test_the_worker_builds_adapters_on_the_database_store(world: World) -> None:
    """``connections.service.build_adapter`` with sessions: the token another process stored is
    the one used (a token without expiry, so the real clock does not matter)."""
    asyncio.run(world.store(1).persist("access", Credential("access-7", expires_at=None)))
    adapter = service.build_adapter(
        world.connection, world.box, world.processes[0].http, world.processes[0].sessions
    )
    assert isinstance(adapter, TokenAdapter)
    asyncio.run(adapter.test_connection())
    assert world.server.issued == []
    assert world.server.data_calls == ["access-7"]

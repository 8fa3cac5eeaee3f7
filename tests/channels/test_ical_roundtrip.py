"""Two listings round trip over real HTTP: innsync exports to the simulated Airbnb and Vrbo
and imports from them, until every calendar agrees and nothing loops."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import sessionmaker

from innsync.api.app import create_app
from innsync.channels.contract import ChannelAdapter
from innsync.channels.ical import IcalChannel, IcalConfig
from innsync.connections.credentials import DatabaseCredentialStore
from innsync.connections.models import Connection
from innsync.crypto import SecretBox
from innsync.inbox import reconciler
from innsync.inbox.models import InboxItem, PullCursor
from innsync.inbox.processor import process_pending
from innsync.inventory.models import Block
from innsync.settings import Settings, get_settings
from innsync.simulators.ical.app import create_app as create_simulator
from tests.api.helpers import make_hotel, new_tenant, ok
from tests.servers import serving


def day(offset: int) -> date:
    return datetime.now(UTC).date() + timedelta(days=offset)


class Stack:
    def __init__(self, engine: Engine, box: SecretBox, stack: ExitStack) -> None:
        self.sessions = sessionmaker(bind=engine, expire_on_commit=False)
        self.box = box
        app = create_app(
            Settings(database_url="sqlite://", background_loops=False),
            engine=engine,
            sessions=self.sessions,
            secret_box=box,
            run_loops=False,
        )
        self.innsync_url = stack.enter_context(serving(app))
        self.simulator_url = stack.enter_context(serving(create_simulator()))
        self.api = stack.enter_context(httpx.Client(base_url=self.innsync_url, timeout=30))
        self.sim = stack.enter_context(httpx.Client(base_url=self.simulator_url, timeout=30))
        self.feeds: httpx.AsyncClient | None = None
        self._adapters: dict[uuid.UUID, ChannelAdapter] = {}

    def adapter_for(self, connection: Connection) -> ChannelAdapter:
        if connection.id not in self._adapters:
            config = IcalConfig.model_validate_json(self.box.decrypt(connection.config_encrypted))
            assert self.feeds is not None
            self._adapters[connection.id] = IcalChannel(
                config,
                self.feeds,
                credentials=DatabaseCredentialStore(self.sessions, self.box, connection.id),
            )
        return self._adapters[connection.id]

    def innsync_reads_feeds(self) -> int:
        with self.sessions() as session:
            session.execute(
                update(PullCursor).values(next_pull_at=datetime(2000, 1, 1, tzinfo=UTC))
            )
            session.commit()

        async def run() -> None:
            # One client per event loop; the adapters keep their state in the database.
            async with httpx.AsyncClient(timeout=30) as self.feeds:
                self._adapters.clear()
                await reconciler.pull_due(self.sessions, self.adapter_for)
                while await process_pending(self.sessions, self.adapter_for, 50):
                    pass

        asyncio.run(run())
        with self.sessions() as session:
            return len(list(session.scalars(select(InboxItem.id))))

    def platforms_read_exports(self) -> dict[str, Any]:
        ok(self.sim.post("/_sim/tick"))
        return {row["listing_id"]: row for row in ok(self.sim.get("/_sim/listings"))["data"]}


@pytest.fixture
def stack(
    committed: Engine, secret_box: SecretBox, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Stack]:
    # The simulator listens on loopback: the operator's policy must allow private addresses
    # for the API's connection test (the default refuses them, see test_ical_feed.py).
    monkeypatch.setenv("INNSYNC_OUTBOUND_ALLOW_PRIVATE_ADDRESSES", "true")
    get_settings.cache_clear()
    try:
        with ExitStack() as exits:
            yield Stack(committed, secret_box, exits)
    finally:
        get_settings.cache_clear()


def nights(rows: list[dict[str, Any]]) -> set[date]:
    found: set[date] = set()
    for row in rows:
        start, end = date.fromisoformat(row["start"]), date.fromisoformat(row["end"])
        found |= {start + timedelta(days=n) for n in range((end - start).days)}
    return found


def test_two_listings_agree_and_nothing_loops(stack: Stack) -> None:
    caller = new_tenant(stack.sessions)
    hotel = make_hotel(stack.api, caller, units=1)  # type: ignore[arg-type]
    listings, connections = {}, {}
    for flavour in ("airbnb", "vrbo"):
        listing = ok(stack.sim.post("/_sim/listings", json={"flavour": flavour}), 201)
        connection = ok(
            stack.api.post(
                f"/api/v1/properties/{hotel.property_id}/connections",
                json={
                    "channel": "ical",
                    "name": flavour,
                    "config": {
                        "feed_url": stack.simulator_url + listing["feed_path"],
                        "platform": flavour.title(),
                    },
                    "push_enabled": False,
                },
                headers=caller.headers,
            ),
            201,
        )
        ok(
            stack.api.put(
                f"/api/v1/connections/{connection['id']}/mappings",
                json={
                    "room_types": [{"room_type_id": hotel.room_type_id, "channel_code": "listing"}],
                    "rate_plans": [],
                },
                headers=caller.headers,
            )
        )
        export = ok(
            stack.api.put(
                f"/api/v1/connections/{connection['id']}/ical-export",
                json={"horizon_days": 120},
                headers=caller.headers,
            )
        )
        ok(
            stack.sim.put(
                f"/_sim/listings/{listing['listing_id']}/import", json={"url": export["url"]}
            )
        )
        listings[flavour] = listing["listing_id"]
        connections[flavour] = connection["id"]
    airbnb, vrbo = listings["airbnb"], listings["vrbo"]

    def stay(listing: str, start: int, end: int, kind: str = "bookings") -> None:
        body = {"start": day(start).isoformat(), "end": day(end).isoformat(), "guest": "Ana"}
        ok(stack.sim.post(f"/_sim/listings/{listing}/{kind}", json=body), 201)

    stay(airbnb, 5, 8)
    stay(airbnb, 40, 45, "blocks")
    stay(vrbo, 12, 14)
    ok(
        stack.api.post(
            f"/api/v1/properties/{hotel.property_id}/reservations",
            json={
                "arrival": day(30).isoformat(),
                "departure": day(32).isoformat(),
                "rooms": [
                    {
                        "room_type_id": hotel.room_type_id,
                        "rate_plan_id": hotel.rate_plan_id,
                        "adults": 2,
                    }
                ],
                "guest": {"last_name": "Rossi"},
            },
            headers=caller.headers,
        ),
        201,
    )

    stored = stack.innsync_reads_feeds()
    assert stored == 2  # two guest bookings; the "Airbnb (Not available)" block is none
    seen = stack.platforms_read_exports()

    own = {
        name: nights([e for e in seen[name]["events"] if not e["is_block"]])
        for name in (airbnb, vrbo)
    }
    imported = {name: nights(seen[name]["imported"]) for name in (airbnb, vrbo)}
    direct = {day(30), day(31)}
    # Each platform sees the other's bookings and the direct one, never its own (no loop).
    assert imported[airbnb] == own[vrbo] | direct
    assert imported[vrbo] == own[airbnb] | direct
    assert not imported[airbnb] & own[airbnb]
    # Calendars agree: every booked night is closed on both platforms.
    everything = own[airbnb] | own[vrbo] | direct
    assert own[airbnb] | imported[airbnb] == everything == own[vrbo] | imported[vrbo]

    # Airbnb's "Not available" closes those nights in innsync (a block of the Airbnb
    # connection) for the API channels, and is never exported to an iCal listing (no echo loop).
    with stack.sessions() as session:
        mirrored = session.execute(
            select(Block.start, Block.end, Block.units).where(
                Block.connection_id == uuid.UUID(connections["airbnb"])
            )
        ).all()
    assert [tuple(row) for row in mirrored] == [(day(40), day(45), 1)]
    assert not imported[vrbo] & nights([{"start": str(day(40)), "end": str(day(45))}])

    # Another round changes nothing: innsync stores nothing new, the platforms get 304s.
    assert stack.innsync_reads_feeds() == stored
    again = stack.platforms_read_exports()
    assert [f["status"] for f in again[airbnb]["fetches"]] == [200, 304]
    assert [f["status"] for f in again[vrbo]["fetches"]] == [200, 304]

    health = ok(
        stack.api.get(
            f"/api/v1/connections/{connections['airbnb']}/ical-health", headers=caller.headers
        )
    )
    assert health["needs_attention"] is False
    assert health["last_success"] is not None
    assert (health["last_http_status"], health["bookings_seen"], health["blocks_seen"]) == (
        304,
        1,
        1,
    )

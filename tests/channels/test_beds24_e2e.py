"""Beds24 end to end over real HTTP, on SQLite and PostgreSQL: the sync engine, the inbox and
the adapter against the Beds24 simulator, every request and answer checked against Beds24's
OpenAPI file.

Evidence (issue: Beds24 end to end): a 500-day full sync of 2 room types x 2 rate plans with
varied ARI takes the fewest calls the batch limits allow (printed with the computed minimum);
one price change is one call with one entry; a token that expires mid-run costs one refresh and
no failed work; two properties on one account never exceed the account's credits; Beds24
bookings new, modified and cancelled are each stored once, by webhook or by the pull.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select

from innsync.channels.beds24.client import MAX_POST_BYTES, MAX_POST_ITEMS
from innsync.connections import service as connections
from innsync.connections.models import Connection
from innsync.connections.schemas import ConnectionUpdate
from innsync.crypto import SecretBox
from innsync.db.engine import transaction
from innsync.events import kinds
from innsync.events.models import Event
from innsync.sync.worker import SyncWorker
from tests.channels.beds24_live import HORIZON_DAYS, LiveBeds24, live_beds24

pytestmark = pytest.mark.backends("sqlite", "postgresql")


@pytest.fixture
def live(committed: Engine, secret_box: SecretBox) -> Iterator[LiveBeds24]:
    with live_beds24(committed, secret_box) as running:
        yield running
        # Zero requests or answers may leave Beds24's OpenAPI file.
        assert running.transport.problems() == []


def seed_varied_ari(live: LiveBeds24, hotel_index: int = 0) -> None:
    """Seasons, weekends, restrictions and closures, so every value varies over the horizon."""
    hotel = live.hotels[hotel_index]
    start, end = live.day(0).isoformat(), live.day(HORIZON_DAYS - 1).isoformat()
    entries: list[dict[str, Any]] = []
    for index, plan_id in enumerate(hotel.rate_plan_ids):
        base = Decimal(90 + 15 * index)
        plan = str(plan_id)
        entries += [
            {"rate_plan_id": plan, "date_from": start, "date_to": end, "price": str(base),
             "min_stay_arrival": 1},
            {"rate_plan_id": plan, "date_from": start, "date_to": end, "weekdays": ["fr", "sa"],
             "price": str(base + 30)},
            {"rate_plan_id": plan, "date_from": live.day(30).isoformat(),
             "date_to": live.day(120).isoformat(), "price": str(base + Decimal("55.50")),
             "min_stay_arrival": 3, "max_stay": 14},
            {"rate_plan_id": plan, "date_from": live.day(200).isoformat(),
             "date_to": live.day(203).isoformat(), "stop_sell": True},
            {"rate_plan_id": plan, "date_from": live.day(300).isoformat(),
             "date_to": live.day(330).isoformat(), "closed_to_arrival": True, "weekdays": ["su"]},
        ]  # fmt: skip
    entries.append(
        {
            "room_type_id": str(hotel.room_type_ids[1]),
            "date_from": live.day(50).isoformat(),
            "date_to": live.day(56).isoformat(),
            "block": {"units": 3, "kind": "maintenance"},
        }
    )
    live.ari(*entries, hotel=hotel)


def minimum_calls(bodies: list[bytes]) -> int:
    """What §2.3's limits force: a call per MB of body and per 10,000 top-level items."""
    return sum(
        max(
            math.ceil(len(body) / MAX_POST_BYTES), math.ceil(len(json.loads(body)) / MAX_POST_ITEMS)
        )
        for body in bodies
    )


def test_a_500_day_full_sync_takes_the_fewest_calls_and_beds24_then_shows_innsync(
    live: LiveBeds24,
) -> None:
    seed_varied_ari(live)
    live.sync()
    posts = live.calendar_posts()
    bodies = [post.request.content for post in posts]
    minimum = minimum_calls(bodies)
    print(  # noqa: T201
        f"\n500-day full sync, 2 room types x 2 rate plans: {len(posts)} calendar calls "
        f"({', '.join(str(len(b)) for b in bodies)} bytes), computed minimum {minimum}"
    )
    assert len(posts) == minimum == 2
    assert all(post.response.status_code == 201 for post in posts)
    held = live.sim.get("/_sim/calendar").json()["data"]
    assert set(held) == {"201", "202"}
    first, last = live.day(0).isoformat(), live.day(HORIZON_DAYS - 1).isoformat()
    for room in ("201", "202"):
        assert min(held[room]) == first
        assert max(held[room]) == last
        assert len({fields.get("price1") for fields in held[room].values()}) >= 3
        assert len({fields.get("price2") for fields in held[room].values()}) >= 3
        assert {fields.get("override") for fields in held[room].values()} >= {
            "none",
            "blackout",
            "noCheckIn",
        }
    # The maintenance block on the second room type leaves 9 - 3 units on its dates.
    assert {fields["numAvail"] for fields in held["202"].values()} == {9, 6}
    assert {fields["numAvail"] for fields in held["201"].values()} == {8}
    # The seeded Friday price is on the channel, for both plans of the room.
    friday = next(live.day(n) for n in range(7) if live.day(n).weekday() == 4)
    assert held["201"][friday.isoformat()]["price1"] == 120
    assert held["201"][friday.isoformat()]["price2"] == 135
    assert live.dead_letters() == []
    assert live.sim.get("/_sim/credits").json()["refused"] == 0


def test_one_price_change_is_one_call_with_one_entry(live: LiveBeds24) -> None:
    seed_varied_ari(live)
    live.sync()
    before = len(live.calendar_posts())
    live.ari(
        {
            "rate_plan_id": str(live.hotel.rate_plan_ids[1]),
            "date_from": live.day(40).isoformat(),
            "date_to": live.day(40).isoformat(),
            "price": "333.00",
        }
    )
    live.sync()
    (post,) = live.calendar_posts()[before:]
    body = json.loads(post.request.content)
    day = live.day(40).isoformat()
    assert len(body) == 1
    assert body[0]["roomId"] == 201
    (entry,) = body[0]["calendar"]
    assert (entry["from"], entry["to"], entry["price2"]) == (day, day, 333)
    assert live.sim.get("/_sim/calendar").json()["data"]["201"][day]["price2"] == 333


def test_a_token_that_expires_mid_run_costs_one_refresh_and_no_failed_work(
    live: LiveBeds24,
) -> None:
    seed_varied_ari(live)
    live.sync()
    assert live.calls("GET /authentication/token") == 1
    live.sim.post("/_sim/tokens/expire", {})
    live.ari(
        {
            "room_type_id": str(live.hotel.room_type_ids[0]),
            "date_from": live.day(5).isoformat(),
            "date_to": live.day(6).isoformat(),
            "block": {"units": 2, "kind": "maintenance"},
        }
    )
    live.sync()
    assert live.calls("GET /authentication/token") == 2
    statuses = [e.response.status_code for e in live.transport.exchanges]
    assert statuses.count(401) == 1
    assert live.dead_letters() == []
    held = live.sim.get("/_sim/calendar").json()["data"]["201"]
    assert (
        held[live.day(5).isoformat()]["numAvail"] == held[live.day(7).isoformat()]["numAvail"] - 2
    )


def test_beds24_bookings_new_modified_and_cancelled_are_each_stored_once(
    live: LiveBeds24,
) -> None:
    booking_id = live.book(201, first=10, nights=2)
    live.inbound()
    (reservation,) = live.reservations()
    assert (reservation.channel_booking_id, reservation.status) == (str(booking_id), "confirmed")
    assert (reservation.departure - reservation.arrival).days == 2

    live.modify(booking_id, departure=live.day(13).isoformat())
    live.inbound()
    (reservation,) = live.reservations()
    assert (reservation.departure - reservation.arrival).days == 3

    live.cancel(booking_id)
    live.inbound()
    (reservation,) = live.reservations()
    assert reservation.status == "cancelled"
    assert [item.status for item in live.items()] == ["applied", "applied", "applied"]

    # The pull, as reconciler, finds the same states: nothing is stored twice.
    live.clock.advance(120)
    live.reconcile()
    live.inbound()
    assert len(live.reservations()) == 1
    assert live.reservations()[0].status == "cancelled"


def test_a_booking_whose_webhooks_fail_arrives_through_the_pull(live: LiveBeds24) -> None:
    live.sim.post("/_sim/faults", {"webhook_failure_rate": 1.0})
    booking_id = live.book(202, first=20, nights=3)
    assert live.items() == []
    live.clock.advance(120)
    assert live.reconcile() == 1
    live.inbound()
    (reservation,) = live.reservations()
    assert reservation.channel_booking_id == str(booking_id)
    assert reservation.status == "confirmed"


def test_two_properties_on_one_account_never_exceed_its_credits(
    committed: Engine, secret_box: SecretBox
) -> None:
    # Two tokens and four calendar calls need 6 credits; the window holds 5, so the last call
    # waits for the next window instead of meeting a 429.
    with live_beds24(committed, secret_box, hotels=2) as live:
        live.sim.post("/_sim/credits", {"limit": 5})
        live.clock.advance(300)  # a fresh window, after the set-up's calls
        before = live.sim.get("/_sim/credits").json()["charged_total"]
        for index in range(2):
            seed_varied_ari(live, index)
        for _ in range(4):
            live.sync(step_seconds=120, max_passes=20)
            if not live.dirty():
                break
        credits = live.sim.get("/_sim/credits").json()
        print(f"\ncredits: {credits}")  # noqa: T201
        # Every call the simulator charged stayed within the window; none was refused.
        assert credits["refused"] == 0
        assert credits["charged_total"] - before == 6
        assert credits["window_started_at"] != live.clock.start.isoformat()
        held = live.sim.get("/_sim/calendar").json()["data"]
        assert {"201", "202", "203", "204"} <= set(held)
        assert live.dead_letters() == []
        assert live.transport.problems() == []


def test_a_refused_refresh_token_sets_the_connection_to_needs_attention_with_an_event(
    live: LiveBeds24,
) -> None:
    hotel = live.hotel
    with transaction(live.sessions) as session:
        connections.update_connection(
            session,
            live.box,
            hotel.tenant_id,
            hotel.connection_id,
            ConnectionUpdate(config={"refresh_token": "revoked-refresh-token"}),
        )
    seed_varied_ari(live)

    async def one_pass() -> None:
        async with httpx.AsyncClient(transport=live.transport, timeout=30) as http:
            worker = SyncWorker(live.sessions, live.adapter_for(http), clock=live.clock)
            await worker.run_once()

    asyncio.run(one_pass())
    with live.sessions() as session:
        connection = session.get_one(Connection, hotel.connection_id)
        assert connection.state == "needs_attention"
        assert "new invite code" in connection.state_reason
        assert "revoked-refresh-token" not in connection.state_reason
        raised = session.scalars(
            select(Event.kind).where(Event.kind == kinds.CONNECTION_NEEDS_ATTENTION)
        ).all()
    assert len(raised) == 1
    assert live.calendar_posts() == []


def test_duplicated_and_reordered_webhooks_store_each_booking_once(live: LiveBeds24) -> None:
    live.sim.post(
        "/_sim/faults", {"webhook_duplicate_rate": 1.0, "webhook_reorder_rate": 0.5, "seed": 3}
    )
    first = live.book(201, first=10, nights=2)
    second = live.book(202, first=12, nights=1)
    live.modify(first, departure=live.day(13).isoformat())
    live.clock.advance(120)
    live.sim.post("/_sim/tick", {})  # the held-back deliveries
    live.inbound()
    by_id = {r.channel_booking_id: r for r in live.reservations()}
    assert set(by_id) == {str(first), str(second)}
    assert (by_id[str(first)].departure - by_id[str(first)].arrival).days == 3

"""Beds24 issue #11 over real HTTP, on SQLite and PostgreSQL: lifting a stop sell never lets
Beds24 sell units innsync does not have.

§2.6: switching a calendar ``override`` from blackout to none without ``numAvail`` in the same
entry sets numAvail to the room's maximum (the simulator models it). A room with units blocked
in innsync is closed, then opened again; after every calendar call the simulator's numAvail on
those dates equals innsync's availability, and every request follows Beds24's OpenAPI file.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select

from innsync.crypto import SecretBox
from innsync.inventory.availability import day_counts
from innsync.properties.models import RoomType
from innsync.simulators.beds24.state import SimulatorState
from innsync.stay_dates import DateRange
from tests.channels.beds24_live import LiveBeds24, live_beds24

pytestmark = pytest.mark.backends("sqlite", "postgresql")

ROOM = 202  # the hotel's second room type, 9 units in innsync and on Beds24
FIRST, LAST = 5, 9  # the closed and reopened days (offsets from today)
BLOCKED = 3


class Watch(httpx.AsyncBaseTransport):
    """After every calendar POST: Beds24's numAvail and innsync's free units on the days."""

    def __init__(self, inner: httpx.AsyncBaseTransport, live: LiveBeds24) -> None:
        self.inner = inner
        self.live = live
        self.seen: list[tuple[dict[date, Any], dict[date, int]]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.method == "POST" and request.url.path.endswith("/inventory/rooms/calendar"):
            await response.aread()
            self.seen.append((self.beds24(), self.innsync()))
        return response

    def days(self) -> DateRange:
        return DateRange(self.live.day(FIRST), self.live.day(LAST + 1))

    def beds24(self) -> dict[date, Any]:
        state: SimulatorState = self.live.sim.app.state.simulator
        return {day: state.calendar.get((ROOM, day), {}).get("numAvail") for day in self.days()}

    def innsync(self) -> dict[date, int]:
        room_type_id = self.live.hotel.room_type_ids[1]
        with self.live.sessions() as session:
            room_type = session.scalars(select(RoomType).where(RoomType.id == room_type_id)).one()
            counts = day_counts(session, [room_type], self.days())[room_type_id]
        return {day: count.free for day, count in counts.items()}


@pytest.fixture
def live(committed: Engine, secret_box: SecretBox) -> Iterator[LiveBeds24]:
    with live_beds24(committed, secret_box) as running:
        yield running
        # Zero requests or answers may leave Beds24's OpenAPI file.
        assert running.transport.problems() == []


def stop_sell(live: LiveBeds24, closed: bool) -> None:
    live.ari(
        {
            "rate_plan_id": str(live.hotel.rate_plan_ids[2]),  # 202-BAR: the room's restrictions
            "date_from": live.day(FIRST).isoformat(),
            "date_to": live.day(LAST).isoformat(),
            "stop_sell": closed,
        }
    )


def test_lifting_a_stop_sell_sends_innsyncs_availability_with_it(live: LiveBeds24) -> None:
    watch = Watch(live.transport.inner, live)
    live.transport.inner = watch
    start, end = live.day(0).isoformat(), live.day(29).isoformat()
    live.ari(
        *(
            {"rate_plan_id": str(plan), "date_from": start, "date_to": end, "price": "100.00"}
            for plan in live.hotel.rate_plan_ids
        ),
        {
            "room_type_id": str(live.hotel.room_type_ids[1]),
            "date_from": live.day(FIRST).isoformat(),
            "date_to": live.day(LAST).isoformat(),
            "block": {"units": BLOCKED, "kind": "maintenance"},
        },
    )
    live.sync()
    stop_sell(live, closed=True)
    closing = len(live.calendar_posts())
    live.sync()
    stop_sell(live, closed=False)
    lifting = len(live.calendar_posts())
    live.sync()

    posts = live.calendar_posts()
    assert len(watch.seen) == len(posts)
    free = watch.seen[0][1]
    assert set(free.values()) == {9 - BLOCKED}  # innsync holds fewer units than Beds24's 9
    for beds24, innsync in watch.seen:
        assert beds24 == innsync
    # Closing and opening again are one rates call each; the opening entry carries numAvail.
    assert len(posts) - lifting == 1
    assert lifting - closing == 1
    closed = json.loads(posts[closing].request.content)
    assert [entry["override"] for entry in closed[0]["calendar"]] == ["blackout"]
    (item,) = json.loads(posts[lifting].request.content)
    (entry,) = item["calendar"]
    assert item["roomId"] == ROOM
    assert (entry["from"], entry["to"]) == (live.day(FIRST).isoformat(), live.day(LAST).isoformat())
    assert (entry["override"], entry["numAvail"]) == ("none", 9 - BLOCKED)
    assert live.dead_letters() == []

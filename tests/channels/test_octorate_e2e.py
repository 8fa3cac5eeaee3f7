"""Octorate end to end over real HTTP, on SQLite and PostgreSQL (issue #16): the OAuth connect
step through the simulator's authorization page, the hotel's calendar pulled and pushed by
webhook, marketplace bookings through the hotel's confirmation under faults and the quota, and
offers answered from innsync's tables alone.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import Engine, select, update

from innsync.connections.credentials import ChannelCredential
from innsync.connections.oauth import OAuthState
from innsync.crypto import SecretBox, generate_key
from innsync.db.engine import transaction
from innsync.db.personal import install_keys
from innsync.events.models import Event
from innsync.inbox.models import APPLIED, InboxItem
from innsync.inventory.models import RateCalendarRun
from innsync.inventory.runs import calendar_rows
from innsync.marketplace.models import ChannelAvailabilityDay
from innsync.outbox.models import BookingPush, DirtyMark
from innsync.properties.models import Property, RatePlan, RoomType
from innsync.properties.service import horizon
from innsync.stay_dates import DateRange
from innsync.sync.bookings import PUSH_LEASE, push_due_bookings
from tests.calendar_runs import all_days, days_covered
from tests.channels.octorate_live import (
    CLIENT_ID,
    CLIENT_SECRET,
    HORIZON_DAYS,
    LiveOctorate,
    live_octorate,
    run_push_worker,
    state_of,
)
from tests.databases import truncate_all

pytestmark = pytest.mark.backends("sqlite", "postgresql")


@pytest.fixture
def live(
    committed: Engine, secret_box: SecretBox, monkeypatch: pytest.MonkeyPatch
) -> Iterator[LiveOctorate]:
    with live_octorate(committed, secret_box, monkeypatch, connect=False) as running:
        yield running


# The OAuth connect step.


def test_the_oauth_dance_stores_the_tokens_encrypted_and_lists_the_accommodations(
    live: LiveOctorate,
) -> None:
    hotel = live.hotels[0]
    authorize = live.start_url(hotel)
    assert authorize.startswith(f"{live.sim_url}/octobook/identity/oauth.xhtml?")
    assert f"client_id={CLIENT_ID}" in authorize
    state = state_of(authorize)
    with live.sessions() as session:
        stored = list(session.scalars(select(OAuthState)))
    # Only the state's hash is kept, never the state itself.
    assert [row.state_hash for row in stored] != [state]
    assert len(stored) == 1

    answer = live.callback(live.approve(authorize))

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["connection_id"] == str(hotel.connection_id)
    assert body["accommodation_id"] == hotel.accommodation_id
    assert [item["id"] for item in body["accommodations"]] == [str(n) for n in range(601, 606)]
    with live.sessions() as session:
        credential = session.scalars(select(ChannelCredential)).one()
    assert credential.connection_id == hotel.connection_id
    assert credential.secret_encrypted is not None
    assert credential.expires_at is not None
    # Encrypted at rest: neither token appears in the stored text.
    held = live.box.decrypt(credential.secret_encrypted)
    assert "rt_" in held
    assert "rt_" not in credential.secret_encrypted
    assert CLIENT_SECRET not in credential.secret_encrypted


def test_a_replayed_tampered_or_expired_state_is_refused_and_nothing_is_exchanged(
    live: LiveOctorate,
) -> None:
    hotel = live.hotels[0]
    back = live.approve(live.start_url(hotel))
    tampered = back.replace(f"state={state_of(back)}", f"state={state_of(back)[:-2]}xx")
    refused = live.callback(tampered)
    assert refused.status_code == 400
    assert "unknown state" in refused.json()["detail"]

    assert live.callback(back).status_code == 200
    replayed = live.callback(back)
    assert replayed.status_code == 400
    assert "already used" in replayed.json()["detail"]

    late = live.approve(live.start_url(hotel))
    with transaction(live.sessions) as session:
        # innsync's callback checks a state against its own clock, the wall's (not the test's).
        session.execute(
            update(OAuthState)
            .where(OAuthState.used_at.is_(None))
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    expired = live.callback(late)
    assert expired.status_code == 400
    assert "expired" in expired.json()["detail"]
    # Only the one good callback exchanged a code: the simulator saw one code grant.
    grants = [
        row
        for row in live.sim("GET", "/_sim/requests")["data"]
        if row.get("endpoint") == "POST /identity/token"
    ]
    assert len(grants) == 1


def test_a_code_older_than_a_minute_is_refused_with_a_clear_400(live: LiveOctorate) -> None:
    back = live.approve(live.start_url(live.hotels[0]))
    live.clock.advance(61)  # §2.2: the code must be exchanged within one minute

    answer = live.callback(back)

    assert answer.status_code == 400
    assert "Octorate refused the code" in answer.json()["detail"]
    with live.sessions() as session:
        assert list(session.scalars(select(ChannelCredential))) == []


def test_the_denied_approval_and_a_missing_state_are_clear_400s(live: LiveOctorate) -> None:
    authorize = live.start_url(live.hotels[0])
    form = {
        "client_id": CLIENT_ID,
        "redirect_uri": f"{live.innsync_url}/oauth/octorate/callback",
        "state": state_of(authorize),
        "decision": "deny",
    }
    denied = httpx.post(f"{live.sim_url}/octobook/identity/oauth.xhtml", data=form, timeout=30)
    answer = live.callback(denied.headers["location"])
    assert answer.status_code == 400
    assert "did not approve" in answer.json()["detail"]
    bare = httpx.get(f"{live.innsync_url}/oauth/octorate/callback?code=x", timeout=30)
    assert bare.status_code == 400


def test_the_start_needs_an_api_key(live: LiveOctorate) -> None:
    answer = httpx.get(
        f"{live.innsync_url}/api/v1/connections/{live.hotels[0].connection_id}/oauth/start",
        follow_redirects=False,
        timeout=30,
    )
    assert answer.status_code == 401
    with live.sessions() as session:
        assert list(session.scalars(select(OAuthState))) == []


# The hotel's calendar.


def connected(live: LiveOctorate) -> LiveOctorate:
    from innsync.marketplace.schemas import AriSourceWrite
    from innsync.marketplace.sources import set_ari_source

    for hotel in live.hotels:
        live.connect(hotel)
        with transaction(live.sessions) as session:
            set_ari_source(
                session,
                live.tenant_id,
                hotel.property_id,
                AriSourceWrite(connection_id=hotel.connection_id),
                live.clock(),
            )
    return live


def simulator_calendar(
    live: LiveOctorate, accommodation: int, window: DateRange
) -> dict[int, dict[str, Any]]:
    """The simulator's calendar over ``window``, read as any app would (its own login)."""
    login = httpx.post(
        f"{live.sim_url}/connect/rest/v1/identity/apilogin",
        data={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
        timeout=30,
    ).json()
    answer = httpx.get(
        f"{live.sim_url}/connect/rest/v1/calendar/{accommodation}",
        params={
            "dateFrom": window.start.isoformat(),
            "dateTo": window.last.isoformat(),
        },
        headers={"authorization": f"Bearer {login['access_token']}"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return {
        product["id"]: {day["date"]: day for day in product["days"]}
        for product in answer.json()["data"]
    }


def test_a_hotels_365_day_calendar_arrives_and_equals_the_simulators(
    live: LiveOctorate,
) -> None:
    connected(live)
    hotel = live.hotels[0]
    live.sim("POST", "/_sim/calendar/generate", {"count": 400})
    live.sim("POST", "/_sim/calendar", {"room": 60112, "dateFrom": live.day(300).isoformat(),
             "dateTo": live.day(310).isoformat(),
             "values": {"stopSells": True, "minStay": 3, "closeToArrival": True}})  # fmt: skip

    result = live.pull(hotel)

    assert result is not None
    assert not result.unknown_codes
    # One pull is two calls charged to the accommodation (room rates, the calendar's one page).
    assert live.sim("GET", "/_sim/quota")["accommodations"]["601"]["calls_in_window"] == 2
    with live.sessions() as session:
        # innsync's window: yesterday to the property's horizon of 365 days.
        window = horizon(session.get_one(Property, hotel.property_id), live.clock())
    assert window.nights == HORIZON_DAYS + 1
    held = simulator_calendar(live, hotel.accommodation_id, window)
    with live.sessions() as session:
        rooms = {row.code: row.id for row in session.scalars(select(RoomType))}
        plans = {row.code: row for row in session.scalars(select(RatePlan))}
        units = {
            (row.room_type_id, row.stay_date.isoformat()): row.available
            for row in session.scalars(select(ChannelAvailabilityDay))
        }
        calendar = {
            (plan_id, stay_date.isoformat()): row
            for (plan_id, stay_date), row in all_days(session).items()
        }
    assert set(rooms) == {"6011", "6012"}
    assert set(plans) == {"60111", "60112", "60121"}
    assert plans["60121"].room_type_id == rooms["6012"]
    compared = 0
    for product_id, days in held.items():
        assert len(days) == window.nights
        for stay_date, values in days.items():
            if str(product_id) in rooms:
                assert units[(rooms[str(product_id)], stay_date)] == values["availability"]
            else:
                stored = calendar[(plans[str(product_id)].id, stay_date)]
                assert stored.price == Decimal(str(values["price"]))
                assert stored.min_stay_arrival == max(values["minStay"], 1)
                assert stored.max_stay == values["maxStay"]
                assert stored.stop_sell == values["stopSells"]
                assert stored.closed_to_arrival == values["closeToArrival"]
                assert stored.closed_to_departure == values["closeToDeparture"]
            compared += 1
    assert compared == 5 * window.nights
    assert len(units) == 2 * window.nights
    assert len(calendar) == 3 * window.nights


def _to_the_hotels_next_morning(live: LiveOctorate) -> None:
    """Move the clock on to 09:00 of the hotel's next day: the pull window follows the hotel's
    date, so a pull an hour later covers the same dates whatever the hour the test runs at
    (from 22:00 UTC, an hour later was the next day in Rome, and the window had a new date)."""
    with live.sessions() as session:
        zone = ZoneInfo(session.get_one(Property, live.hotels[0].property_id).timezone)
    now = live.clock().astimezone(zone)
    morning = datetime.combine(now.date() + timedelta(days=1), time(9), tzinfo=zone)
    live.clock.advance((morning - now).total_seconds())


def test_a_calendar_webhook_and_the_next_pull_agree_without_writes(live: LiveOctorate) -> None:
    _to_the_hotels_next_morning(live)
    connected(live)
    hotel = live.hotels[0]
    live.pull(hotel)
    subscribed = register_webhooks(live, hotel)
    assert subscribed == {"callback_url": hook_url(live, hotel), "changed": 3}
    change = {"price": 155.5, "minStay": 2}
    live.sim("POST", "/_sim/calendar", {"room": 60111, "dateFrom": live.day(20).isoformat(),
             "dateTo": live.day(24).isoformat(), "values": change})  # fmt: skip
    live.sim("POST", "/_sim/calendar", {"room": 6011, "dateFrom": live.day(22).isoformat(),
             "dateTo": live.day(22).isoformat(), "values": {"availability": 3}})  # fmt: skip

    assert live.tick()["attempted"] == 2  # the two calendar webhooks, delivered to innsync
    assert live.inbound() == 2

    with live.sessions() as session:
        items = list(session.scalars(select(InboxItem)))
        plan = session.scalars(select(RatePlan).where(RatePlan.code == "60111")).one()
        room = session.scalars(select(RoomType).where(RoomType.code == "6011")).one()
        day = calendar_rows(session, [plan.id], DateRange.single(live.day(22)))[plan.id][
            live.day(22)
        ]
        units = session.get_one(ChannelAvailabilityDay, (room.id, live.day(22)))
    assert [item.status for item in items] == [APPLIED, APPLIED]
    assert (day.price, day.min_stay_arrival, units.available) == (Decimal("155.5"), 2, 3)
    counts = (
        calendar_runs(live),
        live.count(ChannelAvailabilityDay),
        live.count(DirtyMark),
        live.count(Event),
    )

    live.clock.advance(3600)
    result = live.pull(hotel)

    assert result is not None
    assert result.changed == 0
    assert (
        calendar_runs(live),
        live.count(ChannelAvailabilityDay),
        live.count(DirtyMark),
        live.count(Event),
    ) == counts


def calendar_runs(live: LiveOctorate) -> tuple[int, int]:
    """The calendar's stored runs and the plan-dates they cover."""
    with live.sessions() as session:
        return live.count(RateCalendarRun), days_covered(session)


def register_webhooks(live: LiveOctorate, hotel: Any) -> Any:
    """Through the API, as an operator onboards the hotel (the stored OAuth token is used)."""
    with live.api() as api:
        answer = api.post(f"/api/v1/connections/{hotel.connection_id}/webhooks/register")
    assert answer.status_code == 200, answer.text
    return answer.json()


def hook_url(live: LiveOctorate, hotel: Any) -> str:
    connection = live.connection(hotel)
    return f"{live.innsync_url}/hooks/{connection.webhook_token}"


# Marketplace bookings and offers, five hotels.


@pytest.fixture(scope="module")
def five(backend: Engine, secret_box: SecretBox) -> Iterator[LiveOctorate]:
    """Five connected hotels, each calendar pulled once, shared by the module's tests that
    read them (the offers) and then book them (the fifty bookings, last)."""
    truncate_all(backend)
    with (
        pytest.MonkeyPatch.context() as monkeypatch,
        live_octorate(backend, secret_box, monkeypatch, hotels=5) as running,
    ):
        for hotel in running.hotels:
            running.pull(hotel)
        yield running
    truncate_all(backend)


def room_and_plan(live: LiveOctorate, hotel: Any) -> tuple[str, str]:
    """The hotel's double room and its standard rate, as innsync named them from Octorate."""
    double, standard = hotel.accommodation_id * 10 + 1, hotel.accommodation_id * 100 + 11
    with live.sessions() as session:
        room = session.scalars(
            select(RoomType).where(
                RoomType.property_id == hotel.property_id, RoomType.code == str(double)
            )
        ).one()
        plan = session.scalars(
            select(RatePlan).where(
                RatePlan.property_id == hotel.property_id, RatePlan.code == str(standard)
            )
        ).one()
        return str(room.id), str(plan.id)


def test_offers_of_five_hotels_for_thirty_nights_make_no_outbound_call(
    five: LiveOctorate,
) -> None:
    logged = five.requests_logged()
    with five.api() as api:
        answer = api.get(
            "/api/v1/offers",
            params={"arrival": five.day(10).isoformat(), "departure": five.day(40).isoformat()},
        )
    assert answer.status_code == 200, answer.text
    offers = answer.json()["offers"]
    assert {offer["property_id"] for offer in offers} == {
        str(hotel.property_id) for hotel in five.hotels
    }
    # Two adults: the double's two rate plans per hotel (the single takes one guest).
    assert len(offers) == 10
    assert {offer["rate_plan_name"] for offer in offers} == {"Standard", "Flexible"}
    assert five.requests_logged() == logged


class Killed(BaseException):
    """The worker process dies: nothing after this point of the push runs."""


class KillAfterSend(httpx.AsyncBaseTransport):
    """Passes calls on; the ``nth`` reservation push reaches the simulator, then the worker
    dies before it can read the answer or record anything (a SIGKILL at that instant)."""

    def __init__(self, nth: int) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.nth = nth
        self.pushes = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.method == "POST" and "/reservation/" in request.url.path:
            self.pushes += 1
            if self.pushes == self.nth:
                await response.aclose()
                raise Killed
        return response


def test_fifty_bookings_across_five_hotels_end_confirmed_or_failed_never_duplicated(
    five: LiveOctorate,
) -> None:
    live = five
    # The hotels' answers come from the periodic status check here (webhooks: the next test).
    live.sim("POST", "/_sim/hotel", {"rejection_ratio": 0.2})
    # 20 % of the pushes land but their answer is lost (a 502 after the hotel's system took it).
    live.sim("POST", "/_sim/failures", {"endpoint": "POST /reservation/{id}", "status": 502,
             "rate": 0.2, "after_handling": True})  # fmt: skip

    def book_ten(hotel: Any) -> list[str]:
        room, plan = room_and_plan(live, hotel)
        made = []
        with live.api() as api:
            for n in range(10):
                body = {
                    "arrival": live.day(10 + 3 * n).isoformat(),
                    "departure": live.day(12 + 3 * n).isoformat(),
                    "rooms": [{"room_type_id": room, "rate_plan_id": plan, "adults": 2}],
                    "guest": {"first_name": "Ada", "last_name": f"Guest{n}"},
                }
                answer = api.post(f"/api/v1/properties/{hotel.property_id}/reservations", json=body)
                assert answer.status_code == 201, answer.text
                made.append(answer.json()["id"])
        return made

    # The five hotels' guests book at the same time, as a marketplace's do.
    with ThreadPoolExecutor(len(live.hotels)) as pool:
        booked = [id_ for made in pool.map(book_ten, live.hotels) for id_ in made]
    live.clock.advance(60)

    # A worker dies right after its third push reached the hotel's system (in this process at
    # this scale; the test below SIGKILLs a real worker process at that instant).
    killer = KillAfterSend(3)

    async def first_pass() -> int:
        async with httpx.AsyncClient(transport=killer, timeout=30) as http:
            return await push_due_bookings(live.sessions, live.adapter_for(http), clock=live.clock)

    with pytest.raises(Killed):
        asyncio.run(first_pass())
    for _ in range(40):
        live.clock.advance(60)  # past the dead worker's lease, the backoffs and quota windows
        live.push()
        live.tick()  # the hotel decides what was pushed
        live.check()
        if live.count(BookingPush, BookingPush.state.in_(("pending", "pushed"))) == 0:
            break

    with live.sessions() as session:
        pushes = list(session.scalars(select(BookingPush)))
    assert sorted(str(push.reservation_id) for push in pushes) == sorted(booked)
    states = [push.state for push in pushes]
    assert set(states) <= {"confirmed", "failed"}, states
    assert all(push.last_error for push in pushes if push.state == "failed")
    held = live.sim("GET", "/_sim/reservations")["data"]
    # Never a duplicate at the hotel's system, whatever was retried or replayed.
    assert sorted(item["refer"] for item in held) == sorted(booked)
    by_refer = {item["refer"]: item for item in held}
    for push in pushes:
        status = by_refer[str(push.reservation_id)]["status"]
        assert (push.state, status) in {("confirmed", "CONFIRMED"), ("failed", "REJECTED")}
        assert push.channel_booking_id == str(by_refer[str(push.reservation_id)]["id"])
    assert 0 < states.count("failed") < 50
    counters = live.sim("GET", "/_sim/counters")
    assert counters["idempotent_replays"] > 0  # lost answers and the killed push were replayed
    quota = live.sim("GET", "/_sim/quota")
    assert quota["violations"] == 0
    assert set(quota["accommodations"]) == {str(hotel.accommodation_id) for hotel in live.hotels}


def test_the_hotels_answer_by_webhook_settles_the_booking_without_a_status_call(
    live: LiveOctorate,
) -> None:
    connected(live)
    hotel = live.hotels[0]
    live.pull(hotel)
    register_webhooks(live, hotel)
    live.sim("POST", "/_sim/hotel", {"decision_delay_seconds": 3600})
    room, plan = room_and_plan(live, hotel)
    booked = []
    with live.api() as api:
        for n in range(2):
            body = {
                "arrival": live.day(10 + 3 * n).isoformat(),
                "departure": live.day(12 + 3 * n).isoformat(),
                "rooms": [{"room_type_id": room, "rate_plan_id": plan, "adults": 2}],
                "guest": {"first_name": "Ada", "last_name": "Lovelace"},
            }
            answer = api.post(f"/api/v1/properties/{hotel.property_id}/reservations", json=body)
            assert answer.status_code == 201, answer.text
            booked.append(answer.json()["id"])
    live.clock.advance(60)
    assert live.push() == 2
    held = {item["refer"]: item["id"] for item in live.sim("GET", "/_sim/reservations")["data"]}
    live.sim("POST", f"/_sim/reservations/{held[booked[0]]}/confirm")
    live.sim("POST", f"/_sim/reservations/{held[booked[1]]}/reject")
    reads = status_reads(live)

    live.tick()  # delivers RESERVATION_CONFIRMED, the rejection and the calendar change
    live.inbound()

    with live.sessions() as session:
        pushes = {str(push.reservation_id): push for push in session.scalars(select(BookingPush))}
    assert pushes[booked[0]].state == "confirmed"
    assert pushes[booked[1]].state == "failed"
    assert "the hotel rejected it" in pushes[booked[1]].last_error
    assert status_reads(live) == reads == 0


def status_reads(live: LiveOctorate) -> int:
    return sum(
        1
        for row in live.sim("GET", "/_sim/requests")["data"]
        if row.get("endpoint") == "GET /reservation/{id}/{id}"
    )


def test_a_worker_sigkilled_after_its_push_landed_is_taken_over_without_a_duplicate(
    committed: Engine, secret_box: SecretBox, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = generate_key()
    box = SecretBox([key])
    install_keys(box)  # the worker process reads the guests' names under this key
    try:
        with live_octorate(committed, box, monkeypatch) as live:
            hotel = live.hotels[0]
            live.pull(hotel)
            room, plan = room_and_plan(live, hotel)
            booked = []
            with live.api() as api:
                for n in range(2):
                    body = {
                        "arrival": live.day(10 + 3 * n).isoformat(),
                        "departure": live.day(12 + 3 * n).isoformat(),
                        "rooms": [{"room_type_id": room, "rate_plan_id": plan, "adults": 2}],
                        "guest": {"first_name": "Ada", "last_name": f"Guest{n}"},
                    }
                    path = f"/api/v1/properties/{hotel.property_id}/reservations"
                    answer = api.post(path, json=body)
                    assert answer.status_code == 201, answer.text
                    booked.append(answer.json()["id"])
            live.clock.advance(60)

            # A real worker process, SIGKILLed the instant the simulator stored its first push.
            assert run_push_worker(live, committed, key, "pushed") == -signal.SIGKILL
            held = live.sim("GET", "/_sim/reservations")["data"]
            assert len(held) == 1
            with live.sessions() as session:
                pushes = list(session.scalars(select(BookingPush)))
            # innsync recorded nothing of it: both still pending, no booking id.
            assert [(p.state, p.channel_booking_id) for p in pushes] == [("pending", None)] * 2

            # Another worker (this process: a second interpreter would only add its start-up),
            # once the dead one's lease ran out, sends both; the first is answered as a replay.
            live.clock.advance(PUSH_LEASE.total_seconds() + 1)
            assert live.push() == 2
            live.tick()  # the hotel confirms what was pushed
            live.clock.advance(120)  # the status check's interval
            live.check()

            with live.sessions() as session:
                pushes = list(session.scalars(select(BookingPush)))
            held = live.sim("GET", "/_sim/reservations")["data"]
            assert sorted(item["refer"] for item in held) == sorted(booked)  # no duplicate
            by_refer = {item["refer"]: item for item in held}
            for push in pushes:
                assert push.state == "confirmed"
                assert by_refer[str(push.reservation_id)]["status"] == "CONFIRMED"
                assert push.channel_booking_id == str(by_refer[str(push.reservation_id)]["id"])
            # The killed push was sent again and answered from the hotel's system, not re-made.
            assert live.sim("GET", "/_sim/counters")["idempotent_replays"] == 1
    finally:
        install_keys(secret_box)

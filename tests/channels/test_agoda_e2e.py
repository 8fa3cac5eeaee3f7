"""Agoda end to end over real HTTP, on SQLite and PostgreSQL (issue #14's evidence).

The sync engine pushes a property of 3 room types x 2 rate plans for 730 days in the fewest
SetARI requests the 1 MB limit allows; one change is one request; BookingHints pushed by the
simulator to innsync's hook URL make innsync fetch the detail at once, and a confirm, amend and
cancel are each applied once and acknowledged (retrieved) once; a process killed between
storing and applying neither loses nor duplicates a booking; with 20 % of the calls failing no
booking reaches the simulator's e-mail/fax fallback; a bad hint is refused with a 4xx and kept.
"""

from __future__ import annotations

import math
import random
import signal
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import Engine, select

from innsync.crypto import SecretBox, generate_key
from innsync.events import kinds
from innsync.events.models import Event
from innsync.xmlkit.parsing import attribute, parse_xml, path
from tests.channels.agoda_live import (
    HINT_SECRET,
    PROPERTY_ID,
    RATES,
    ROOMS,
    LiveAgoda,
    SimServer,
    calls_of,
    live_agoda,
    sim_server,
)
from tests.channels.live_xml import run_crash_worker

pytestmark = pytest.mark.backends("sqlite", "postgresql")
SET_ARI = "10"
DETAIL = "4"
# Past the reconciler's (120 s) and the processor's (120 s) leases a killed process left.
AFTER_LEASES = 300


@pytest.fixture(scope="module")
def server() -> Iterator[SimServer]:
    with sim_server() as running:
        yield running


@pytest.fixture
def live(committed: Engine, secret_box: SecretBox, server: SimServer) -> Iterator[LiveAgoda]:
    with live_agoda(committed, secret_box, server) as running:
        yield running


def seed_ari(live: LiveAgoda) -> None:
    """Seasons, weekend prices, occupancy prices and restrictions over the 730 days."""
    start, end = live.day(0).isoformat(), live.day(729).isoformat()
    entries: list[dict[str, object]] = []
    for index, plan in enumerate(live.rate_plan_ids):
        base = Decimal(90 + 10 * index)
        entries += [
            {
                "rate_plan_id": str(plan),
                "date_from": start,
                "date_to": end,
                "price": str(base),
                "min_stay_arrival": 1,
            },
            {
                # Weekend prices all year: ranges with weekday flags on the wire.
                "rate_plan_id": str(plan),
                "date_from": start,
                "date_to": end,
                "weekdays": ["fr", "sa"],
                "price": str(base + 15),
            },
            {
                "rate_plan_id": str(plan),
                "date_from": live.day(60).isoformat(),
                "date_to": live.day(150).isoformat(),
                "price": str(base + Decimal("35.50")),
                "min_stay_arrival": 3,
                "max_stay": 14,
            },
            {
                "rate_plan_id": str(plan),
                "date_from": live.day(400).isoformat(),
                "date_to": live.day(480).isoformat(),
                "price": str(base + 20),
                "closed_to_arrival": True,
            },
            {
                "rate_plan_id": str(plan),
                "date_from": live.day(200 + index).isoformat(),
                "date_to": live.day(203 + index).isoformat(),
                "stop_sell": True,
            },
        ]
    entries.append(
        {
            "room_type_id": str(live.room_type_ids[1]),
            "date_from": live.day(50).isoformat(),
            "date_to": live.day(56).isoformat(),
            "block": {"units": 2, "kind": "maintenance"},
        }
    )
    live.ari(*entries)


def test_a_730_day_full_sync_is_the_fewest_requests_the_limits_allow(live: LiveAgoda) -> None:
    seed_ari(live)
    live.sync()

    calls = calls_of(live.transport, SET_ARI)
    sent_bytes = sum(len(call.request_body) for call in calls)
    # §3.3: allotment, restrictions and prices travel in one SetARI, one property per request,
    # at most 1 MB each: the fewest requests are the bytes to send over 1 MB, rounded up.
    minimum = max(1, math.ceil(sent_bytes / 1_000_000))
    print(  # noqa: T201 (the issue asks for the figure printed)
        f"730-day full sync of {len(ROOMS)} room types x 2 rate plans: {len(calls)} SetARI "
        f"requests, {sent_bytes} bytes; minimum the limits allow: {minimum}"
    )
    assert len(calls) == minimum
    assert all(call.status == 200 and b"<success/>" in call.response_body for call in calls)
    assert b"<warning" not in b"".join(call.response_body for call in calls)
    (body,) = [call.request_body for call in calls]
    criteria = parse_xml(body)
    inventory = list(path(criteria, "criteria", "inventory", "update"))
    rates = list(path(criteria, "criteria", "rate", "update"))
    assert {attribute(u, "room_id") for u in inventory} == set(ROOMS)
    assert {attribute(u, "rateplan_id") for u in rates} == set(RATES)
    # Ranges (with weekday flags) where values repeat: a few dozen updates, not 6 x 730.
    assert len(rates) <= 6 * 20
    held = live.sim.get("/_sim/ari").json()["data"][PROPERTY_ID]
    days = sorted(day for room in held["availability"].values() for day in room)
    assert (days[0], days[-1]) == (live.day(0).isoformat(), live.day(729).isoformat())
    assert len(held["availability"][ROOMS[0]]) == 730
    prices = held["prices"][ROOMS[0]][RATES[0]]
    assert len(prices) == 730
    weekday = next(n for n in range(10, 20) if live.day(n).weekday() == 2)  # a Wednesday
    friday = weekday + 2
    assert prices[live.day(weekday).isoformat()] == {"room": "90.00"}
    assert prices[live.day(friday).isoformat()] == {"room": "105.00"}
    flagged = [
        d for u in rates for d in path(u, "date_values", "date_range") if attribute(d, "fri")
    ]
    assert flagged  # weekend runs went as one range with weekday flags
    assert prices[live.day(100).isoformat()] == {"room": "125.50"}
    assert prices[live.day(450).isoformat()] == {"room": "110.00"}
    restrictions = held["restrictions"][ROOMS[0]][RATES[0]]
    assert restrictions[live.day(100).isoformat()]["min_los"] == 3
    assert restrictions[live.day(100).isoformat()]["max_los"] == 14
    assert restrictions[live.day(450).isoformat()]["cta"] is True
    assert restrictions[live.day(201).isoformat()]["closed"] is True
    assert held["availability"][ROOMS[1]][live.day(52).isoformat()] == 7 - 2


def test_a_small_request_limit_cuts_the_full_sync_into_requests_under_it(
    committed: Engine, secret_box: SecretBox, server: SimServer
) -> None:
    limit = 8_000
    with live_agoda(
        committed, secret_box, server, {"max_request_bytes": limit}, max_body_bytes=limit
    ) as live:
        seed_ari(live)
        live.sync()
        calls = calls_of(live.transport, SET_ARI)
        sizes = [len(call.request_body) for call in calls]
        minimum = math.ceil(sum(sizes) / limit)
        print(  # noqa: T201
            f"730-day full sync under {limit} bytes a request: {len(calls)} requests "
            f"(largest {max(sizes)} bytes); at least {minimum}"
        )
        assert len(calls) > 1
        assert max(sizes) <= limit
        assert all(call.status == 200 for call in calls)
        assert minimum <= len(calls) <= minimum + 1  # greedy packing: at most one extra
        held = live.sim.get("/_sim/ari").json()["data"][PROPERTY_ID]
        assert len(held["prices"][ROOMS[2]][RATES[5]]) == 730


def test_one_change_after_the_full_sync_is_one_request(live: LiveAgoda) -> None:
    seed_ari(live)
    live.sync()
    before = len(live.transport.exchanges)

    live.ari(
        {
            "rate_plan_id": str(live.rate_plan_ids[0]),
            "date_from": live.day(20).isoformat(),
            "date_to": live.day(20).isoformat(),
            "price": "111.00",
        }
    )
    live.sync()

    (call,) = calls_of(live.transport, SET_ARI, before)
    (update,) = path(parse_xml(call.request_body), "criteria", "rate", "update")
    (dates,) = path(update, "date_values", "date_range")
    assert (attribute(dates, "from"), attribute(dates, "to")) == (
        live.day(20).isoformat(),
        live.day(20).isoformat(),
    )
    held = live.sim.get("/_sim/ari").json()["data"][PROPERTY_ID]["prices"][ROOMS[0]][RATES[0]]
    assert held[live.day(20).isoformat()] == {"room": "111.00"}


def _hinted(live: LiveAgoda) -> None:
    """Let the hint schedule come round: the simulator pushes to innsync's hook URL."""
    live.clock.advance(61)
    assert live.tick()["hints_delivered"] == 1


def test_confirm_amend_and_cancel_are_applied_once_and_acknowledged_once(
    live: LiveAgoda,
) -> None:
    booking_id = live.book(nights=2)
    _hinted(live)
    assert live.process() >= 1  # the hint fetched the detail at once, no pull needed
    (stored,) = live.reservations()
    assert (stored.channel_booking_id, stored.status) == (booking_id, "confirmed")
    assert (stored.departure - stored.arrival).days == 2

    live.clock.advance(30)
    answer = live.sim.post(
        f"/_sim/bookings/{booking_id}/amend", {"departure": live.day(13).isoformat()}
    )
    assert answer.status_code == 201
    _hinted(live)
    live.process()
    (stored,) = live.reservations()
    assert (stored.departure - stored.arrival).days == 3

    live.clock.advance(30)
    assert live.sim.post(f"/_sim/bookings/{booking_id}/cancel", {}).status_code == 201
    _hinted(live)
    live.process()
    (stored,) = live.reservations()
    assert stored.status == "cancelled"

    # The pull reads the same bookings again: nothing new is stored, nothing applied twice.
    live.clock.advance(60)
    live.reconcile()
    live.process()
    assert [item.status for item in live.items() if item.source == "webhook"] == ["applied"] * 3
    assert {item.status for item in live.items() if item.source != "webhook"} <= {"ignored"}
    seen = live.bookings()
    assert [a["status"] for a in seen["actions"]] == [
        "ConfirmBooking",
        "AmendBooking",
        "CancelBooking",
    ]
    assert seen["counts"] == {"acknowledged": 3}
    assert live.counters()["acknowledged"] == 3  # each action retrieved (acknowledged) once
    with live.sessions() as session:
        events = list(session.scalars(select(Event.kind).where(Event.tenant_id == live.tenant_id)))
    assert events.count(kinds.RESERVATION_CREATED) == 1
    assert events.count(kinds.RESERVATION_MODIFIED) == 1
    assert events.count(kinds.RESERVATION_CANCELLED) == 1


def test_a_bad_hint_is_refused_with_a_4xx_and_kept_and_the_detail_is_what_is_trusted(
    live: LiveAgoda,
) -> None:
    booking_id = live.book(offset=30, nights=2)
    genuine = (
        f'<request timestamp="1"><property id="{PROPERTY_ID}"><bookings>'
        f'<booking booking_id="{booking_id}" arrival="2001-01-01" departure="2001-01-09" '
        'status="CancelBooking"/></bookings></property></request>'
    ).encode()
    headers = {"content-type": "application/xml", "x-agoda-hint-secret": HINT_SECRET}
    with httpx.Client(timeout=30) as http:
        forged = http.post(live.hook_url, content=genuine, headers={"x-agoda-hint-secret": "no"})
        elsewhere = http.post(
            live.hook_url, content=genuine.replace(PROPERTY_ID.encode(), b"999"), headers=headers
        )
        garbage = http.post(live.hook_url, content=b"<request", headers=headers)
        unknown = http.post(
            live.hook_url, content=genuine.replace(booking_id.encode(), b"123"), headers=headers
        )
        # A hint with the right secret and property, but dates and status that are not true.
        trusted = http.post(live.hook_url, content=genuine, headers=headers)
    assert [forged.status_code, elsewhere.status_code, garbage.status_code] == [401, 401, 401]
    assert (unknown.status_code, trusted.status_code) == (200, 200)
    live.process()

    items = live.items()
    assert [item.status for item in items] == [
        "rejected",
        "rejected",
        "rejected",
        "rejected",
        "applied",
    ]
    assert all(item.body for item in items)  # kept for audit
    assert "not trusted" in (items[3].reason or "")
    (stored,) = live.reservations()
    # What Agoda's detail says, not the hint: confirmed, 30 days ahead, 2 nights.
    assert (stored.channel_booking_id, stored.status) == (booking_id, "confirmed")
    assert stored.arrival == live.day(30)
    assert (stored.departure - stored.arrival).days == 2


def test_sigkill_after_storing_and_after_applying_loses_and_duplicates_nothing(
    committed: Engine, server: SimServer
) -> None:
    key = generate_key()
    with live_agoda(committed, SecretBox([key]), server) as live:
        made = [live.book(room=n, offset=10 + n) for n in range(3)]
        _hinted(live)  # one hint naming the three, stored in the inbox
        # The worker's clock stands where the test's is (the simulator reads the test's).
        offset = (live.clock() - datetime.now(UTC)).total_seconds()

        # Killed right after the pull's revisions were committed to the inbox.
        assert run_crash_worker("agoda", committed, key, "stored", offset) == -signal.SIGKILL
        assert live.reservations() == []
        pending = Counter(item.status for item in live.items())
        assert pending == Counter({"pending": 1 + 3})  # the hint and the three pulled
        # Restarted past the leases, killed as the first item's transaction committed.
        assert (
            run_crash_worker("agoda", committed, key, "applied", offset + AFTER_LEASES)
            == -signal.SIGKILL
        )
        assert len(live.reservations()) == 3  # the hint (applied first) named all three
        # Restarted once more: each booking stored once, nothing applied twice.
        assert run_crash_worker("agoda", committed, key, "none", offset + 2 * AFTER_LEASES) == 0

        assert sorted(str(r.channel_booking_id) for r in live.reservations()) == sorted(made)
        assert {i.status for i in live.items()} <= {"applied", "ignored"}
        assert live.bookings()["counts"] == {"acknowledged": 3}
        assert live.counters()["acknowledged"] == 3
        with live.sessions() as session:
            created = session.scalars(
                select(Event.id).where(Event.kind == kinds.RESERVATION_CREATED)
            ).all()
        assert len(created) == 3


def test_no_booking_reaches_the_email_fallback_with_20_percent_failed_calls(
    live: LiveAgoda,
) -> None:
    live.sim.post("/_sim/faults", {"server_error_rate": 0.2, "seed": 7})
    draw = random.Random(3)
    made: list[str] = []
    # 90 minutes, a step every 20 s: pulls when due, hints when the schedule comes round.
    for step in range(270):
        if step % 9 == 0:
            made.append(live.book(room=draw.randint(0, 2), offset=5 + draw.randint(0, 200)))
        if step % 40 == 20 and made:
            live.sim.post(f"/_sim/bookings/{made[-1]}/amend", {"adults": 1})
        live.tick()
        live.reconcile()
        live.process()
        live.clock.advance(20)
    live.sim.request("DELETE", "/_sim/faults")
    live.clock.advance(120)
    live.tick()
    live.reconcile()
    live.process()

    counters = live.counters()
    failed = [e for e in live.transport.exchanges if e.status >= 500]
    print(  # noqa: T201 (the figure the issue asks for)
        f"{len(made)} bookings, {len(live.transport.exchanges)} calls, {len(failed)} failed "
        f"(5xx); fell back to e-mail/fax: {counters['fell_back_to_email']}"
    )
    assert failed  # the faults really happened
    assert counters["fell_back_to_email"] == 0
    assert {r.channel_booking_id for r in live.reservations()} == set(made)
    assert live.bookings()["counts"] == {"acknowledged": counters["acknowledged"]}

"""Expedia QuickConnect end to end over real HTTP, on SQLite and PostgreSQL (issue #14).

A 500-day full sync is the fewest AR messages the 3000-update cap allows; one change is one
request; pending bookings come 125 per BR until none is left; Book, Modify and Cancel are each
applied once and confirmed (BC) once, only after they are committed; a crash between storing
and confirming neither loses nor duplicates a booking; with 20 % of the calls failing no
booking falls back to fax or e-mail.
"""

from __future__ import annotations

import random
import signal
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import Engine, select

from innsync.channels.expedia.mapping import MAX_UPDATES_PER_MESSAGE, minimum_messages
from innsync.channels.expedia.reservations import MAX_BOOKINGS_PER_RESPONSE
from innsync.crypto import SecretBox, generate_key
from innsync.events import kinds
from innsync.events.models import Event
from innsync.reservations.models import Reservation
from innsync.xmlkit.parsing import attribute, child, children, parse_xml
from tests.channels.booking_com_live import RecordingTransport
from tests.channels.expedia_live import (
    HOTEL_ID,
    RATES,
    ROOMS,
    LiveExpedia,
    ar_calls,
    live_expedia,
)
from tests.channels.live_xml import run_crash_worker

pytestmark = pytest.mark.backends("sqlite", "postgresql")
# Past the reconciler's (120 s), the processor's (120 s) and the acknowledgement's (30 s)
# leases a killed process left behind.
AFTER_LEASES = 300


@pytest.fixture
def live(committed: Engine, secret_box: SecretBox) -> Iterator[LiveExpedia]:
    with live_expedia(committed, secret_box) as running:
        yield running


def seed_ari(live: LiveExpedia) -> None:
    """Seasons, weekend prices, restrictions, stop sells and a block over 500 days."""
    start, end = live.day(-1).isoformat(), live.day(499).isoformat()
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
                "rate_plan_id": str(plan),
                "date_from": live.day(60).isoformat(),
                "date_to": live.day(150).isoformat(),
                "price": str(base + Decimal("35.50")),
                "min_stay_arrival": 3,
                "max_stay": 14,
            },
            {
                "rate_plan_id": str(plan),
                "date_from": live.day(300).isoformat(),
                "date_to": live.day(420).isoformat(),
                "weekdays": ["fr", "sa"],
                "price": str(base + Decimal("20")),
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


def test_a_500_day_full_sync_is_the_fewest_messages_the_update_cap_allows(
    live: LiveExpedia,
) -> None:
    seed_ari(live)
    live.sync()

    calls = ar_calls(live.transport.exchanges)
    counters = live.counters()
    # The simulator counts updates its own way (one per value per stay date, FAQ); the
    # fewest messages that can carry them under the 3000-update cap:
    minimum = minimum_messages(counters["ar_updates"], MAX_UPDATES_PER_MESSAGE)
    print(  # noqa: T201 (the issue asks for the figure printed)
        f"500-day full sync of {len(ROOMS)} room types x 2 rate plans: {len(calls)} AR "
        f"requests carrying {counters['ar_updates']} updates; minimum under the "
        f"{MAX_UPDATES_PER_MESSAGE}-update cap: {minimum}"
    )
    assert len(calls) == minimum
    assert minimum > 1  # the cap really shaped the sync
    assert counters["errors"] == 0
    assert all(b"<Success" in call.response_body for call in calls)
    held = live.sim.get("/_sim/ari", params={"hotel_id": HOTEL_ID}).json()
    today = live.day(0)
    assert set(held["rooms"]) == set(ROOMS)
    assert set(held["rates"]) == {f"{ROOMS[n // 2]}/{RATES[n]}" for n in range(len(RATES))}
    room_days = held["rooms"][ROOMS[0]]
    assert len(room_days) >= 499  # 500 days ahead, in the property's today
    first = min(room_days)
    assert first >= (today - timedelta(days=1)).isoformat()  # nothing before yesterday
    plan = held["rates"][f"{ROOMS[0]}/{RATES[0]}"]
    assert plan[live.day(10).isoformat()]["rate"] == "90.00"
    assert plan[live.day(100).isoformat()]["rate"] == "125.50"
    assert plan[live.day(100).isoformat()]["minLOS"] == 3
    assert plan[live.day(201).isoformat()]["closed"] is True
    assert plan[live.day(10).isoformat()]["closed"] is False
    blocked = held["rooms"][ROOMS[1]]
    assert blocked[live.day(52).isoformat()]["inventory"] == 7 - 2
    weekend = [day for offset in range(300, 421) if (day := live.day(offset)).weekday() in (4, 5)]
    assert all(plan[d.isoformat()]["closedToArrival"] is True for d in weekend)
    assert all(plan[d.isoformat()]["rate"] == "110.00" for d in weekend)


def test_one_change_after_the_full_sync_is_one_request(live: LiveExpedia) -> None:
    seed_ari(live)
    live.sync()
    before = len(live.transport.exchanges)
    updates_before = live.counters()["ar_updates"]

    live.ari(
        {
            "rate_plan_id": str(live.rate_plan_ids[0]),
            "date_from": live.day(20).isoformat(),
            "date_to": live.day(20).isoformat(),
            "price": "111.00",
        }
    )
    live.sync()

    (call,) = ar_calls(live.transport.exchanges, before)
    root = parse_xml(call.request_body)
    (update,) = children(root, "AvailRateUpdate")
    date_range = child(update, "DateRange")
    assert (attribute(date_range, "from"), attribute(date_range, "to")) == (
        live.day(20).isoformat(),
        live.day(20).isoformat(),
    )
    assert live.counters()["ar_updates"] - updates_before <= 7  # one date's values, no more
    plan = live.sim.get("/_sim/ari", params={"hotel_id": HOTEL_ID}).json()["rates"]
    assert plan[f"{ROOMS[0]}/{RATES[0]}"][live.day(20).isoformat()]["rate"] == "111.00"


class CommitCheckingTransport(RecordingTransport):
    """Checks, as each BC leaves, that the booking it confirms is already committed."""

    def __init__(self, live: LiveExpedia) -> None:
        super().__init__()
        self.live = live
        self.confirmed_uncommitted: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/bc"):
            root = parse_xml(request.content)
            numbers = child(root, "BookingConfirmNumbers")
            for number in children(numbers, "BookingConfirmNumber"):
                booking_id = attribute(number, "bookingID")
                with self.live.sessions() as session:
                    stored = session.scalars(
                        select(Reservation.id).where(Reservation.channel_booking_id == booking_id)
                    ).first()
                if stored is None:
                    self.confirmed_uncommitted.append(str(booking_id))
        return await super().handle_async_request(request)


def test_book_modify_and_cancel_are_applied_once_and_confirmed_once_after_commit(
    live: LiveExpedia,
) -> None:
    transport = CommitCheckingTransport(live)
    live.transport = transport
    (booking_id,) = live.book(nights=2)
    live.reconcile()
    live.process()
    (stored,) = live.reservations()
    assert (stored.channel_booking_id, stored.status) == (booking_id, "confirmed")
    assert (stored.departure - stored.arrival).days == 2
    assert stored.total_amount == Decimal("264.00")  # 2 x 120.00 + 10 % taxes

    live.clock.advance(60)  # the pull cadence
    answer = live.sim.post(f"/_sim/bookings/{booking_id}/modify", {"nights": 3})
    assert answer.status_code == 200
    live.reconcile()
    live.process()
    (stored,) = live.reservations()
    assert (stored.departure - stored.arrival).days == 3

    live.clock.advance(60)  # the pull cadence
    assert live.sim.post(f"/_sim/bookings/{booking_id}/cancel").status_code == 200
    live.reconcile()
    live.process()
    (stored,) = live.reservations()
    assert stored.status == "cancelled"

    live.clock.advance(60)  # the pull cadence
    live.reconcile()
    live.process()
    (booking,) = live.bookings()
    transactions = booking["transactions"]
    assert [t["type"] for t in transactions] == ["Book", "Modify", "Cancel"]
    assert [t["status"] for t in transactions] == ["confirmed"] * 3
    assert [t["confirmations"] for t in transactions] == [1, 1, 1]
    # innsync's number for the booking: the reservation's id.
    assert {t["confirm_number"] for t in transactions} == {stored.id.hex}
    assert transport.confirmed_uncommitted == []
    assert [item.status for item in live.items()] == ["applied", "applied", "applied"]
    with live.sessions() as session:
        events = list(session.scalars(select(Event.kind).where(Event.tenant_id == live.tenant_id)))
    assert events.count(kinds.RESERVATION_CREATED) == 1
    assert events.count(kinds.RESERVATION_MODIFIED) == 1
    assert events.count(kinds.RESERVATION_CANCELLED) == 1


def test_pending_bookings_come_125_per_call_until_none_is_left(live: LiveExpedia) -> None:
    made = live.book(count=126, offset=30)
    live.clock.advance(1)
    # One booking changed before the first pull: its Modify comes after its Book is retrieved.
    live.sim.post(f"/_sim/bookings/{made[0]}/modify", {"nights": 4})
    live.reconcile()

    pulls = [e for e in live.transport.exchanges if e.path.endswith("/br")]
    sizes = [len(list(parse_xml(e.response_body).iter("{*}Booking"))) for e in pulls]
    print(f"126 pending bookings and a change: BR pages of {sizes}")  # noqa: T201
    # 125 at most, then the last Book, then its Modify (only once the Book was retrieved),
    # then an empty page ends the pass.
    assert sizes == [MAX_BOOKINGS_PER_RESPONSE, 1, 1, 0]
    while live.process():
        pass
    assert sorted(r.channel_booking_id for r in live.reservations()) == sorted(made)
    confirmations = Counter(
        t["confirmations"] for booking in live.bookings() for t in booking["transactions"]
    )
    assert confirmations == Counter({1: 127})
    changed = next(r for r in live.reservations() if r.channel_booking_id == made[0])
    assert (changed.departure - changed.arrival).days == 4


def test_a_crash_between_storing_and_confirming_loses_and_duplicates_nothing(
    live: LiveExpedia,
) -> None:
    (booking_id,) = live.book()
    assert live.reconcile() == 1  # stored durably
    # The process dies before confirming: every call to EQC fails from here.
    live.sim.post("/_sim/faults", {"server_error_rate": 1.0})
    live.process()
    assert len(live.reservations()) == 1
    (item,) = live.items()
    assert item.ack_status == "due"
    assert live.bookings()[0]["transactions"][0]["status"] == "retrieved"

    live.sim.request("DELETE", "/_sim/faults")
    live.clock.advance(60)
    live.reconcile()  # retrieved, not confirmed: handed out again, stored nothing new
    live.clock.advance(60)
    live.process()

    (stored,) = live.reservations()
    assert stored.channel_booking_id == booking_id
    (item,) = live.items()
    assert (item.status, item.ack_status) == ("applied", "done")
    (transaction,) = live.bookings()[0]["transactions"]
    assert (transaction["status"], transaction["confirmations"]) == ("confirmed", 1)


def test_a_crash_between_retrieving_and_storing_loses_nothing(live: LiveExpedia) -> None:
    (booking_id,) = live.book()

    # A BR answered, then the process died before the inbox stored the page.
    page = live.pull_without_storing()
    assert [revision.channel_booking_id for revision in page.revisions] == [booking_id]
    assert live.bookings()[0]["transactions"][0]["status"] == "retrieved"
    assert live.items() == []

    live.reconcile()
    live.process()
    (stored,) = live.reservations()
    assert stored.channel_booking_id == booking_id
    (transaction,) = live.bookings()[0]["transactions"]
    assert (transaction["status"], transaction["confirmations"]) == ("confirmed", 1)


def test_no_booking_falls_back_to_fax_or_email_with_20_percent_failed_calls(
    live: LiveExpedia,
) -> None:
    live.sim.post("/_sim/faults", {"server_error_rate": 0.2, "seed": 7})
    draw = random.Random(3)
    made: list[str] = []
    # 90 minutes of pulls on the default cadence (60 s), bookings, changes and cancellations.
    for step in range(90):
        if step % 3 == 0:
            made += live.book(room=draw.randint(0, 2), offset=5 + draw.randint(0, 200))
        if step % 10 == 5:
            live.sim.post(f"/_sim/bookings/{made[-2]}/modify", {"nights": 3})
        if step % 15 == 7:
            live.sim.post(f"/_sim/bookings/{made[-3]}/cancel")
        live.reconcile()
        live.process()
        live.sim.post("/_sim/tick")
        live.clock.advance(60)
    live.sim.request("DELETE", "/_sim/faults")
    for _ in range(3):
        live.clock.advance(60)
        live.reconcile()
        live.process()
    live.sim.post("/_sim/tick")

    counters = live.counters()
    failed = [e for e in live.transport.exchanges if e.status >= 500]
    print(  # noqa: T201 (the figure the issue asks for)
        f"{len(made)} bookings, {len(live.transport.exchanges)} calls, {len(failed)} failed "
        f"(5xx); fell back to fax or e-mail: {counters['fallback']}"
    )
    assert failed
    assert counters["fallback"] == 0
    assert {r.channel_booking_id for r in live.reservations()} == set(made)
    statuses = Counter(t["status"] for b in live.bookings() for t in b["transactions"])
    assert set(statuses) == {"confirmed"}
    assert all(t["confirmations"] >= 1 for b in live.bookings() for t in b["transactions"])


def test_sigkill_after_storing_and_before_confirming_loses_and_duplicates_nothing(
    committed: Engine,
) -> None:
    key = generate_key()
    with live_expedia(committed, SecretBox([key])) as live:
        made = [live.book(room=n, offset=10 + n)[0] for n in range(3)]

        # Killed right after the BR page was committed to the inbox.
        assert run_crash_worker("expedia", committed, key, "stored", 0) == -signal.SIGKILL
        assert [item.status for item in live.items()] == ["pending"] * 3
        assert live.reservations() == []
        # Restarted past the leases, killed again as it confirms the first it applied.
        assert (
            run_crash_worker("expedia", committed, key, "acknowledge", AFTER_LEASES)
            == -signal.SIGKILL
        )
        states = Counter((i.status, i.ack_status) for i in live.items())
        assert states == Counter({("applied", "due"): 1, ("pending", None): 2})
        assert len(live.reservations()) == 1
        # Restarted once more: each booking applied once and confirmed once.
        assert run_crash_worker("expedia", committed, key, "none", 2 * AFTER_LEASES) == 0

        assert sorted(r.channel_booking_id for r in live.reservations()) == sorted(made)
        assert {(i.status, i.ack_status) for i in live.items()} == {("applied", "done")}
        transactions = [t for b in live.bookings() for t in b["transactions"]]
        assert [(t["status"], t["confirmations"]) for t in transactions] == [("confirmed", 1)] * 3
        with live.sessions() as session:
            created = session.scalars(
                select(Event.id).where(Event.kind == kinds.RESERVATION_CREATED)
            ).all()
        assert len(created) == 3

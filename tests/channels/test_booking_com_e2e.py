"""Booking.com end to end over real HTTP, on SQLite and PostgreSQL (the issue's evidence).

The sync engine pushes a hotel of 3 room types x 2 rate plans for 13 months; one change is one
request; new, modified and cancelled reservations are pulled, applied once and acknowledged; a
crash between storing and acknowledging neither loses nor duplicates one; with 20 % of the
calls failing no reservation reaches the simulator's e-mail fallback; and every XML document
exchanged validates against the OpenTravel 2015A schemas.
"""

from __future__ import annotations

import random
import signal
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, select

from innsync.channels.booking_com import BookingComAdapter, BookingComConfig
from innsync.connections import service as connections
from innsync.connections.schemas import MappingsWrite, RatePlanMappingIn, RoomTypeMappingIn
from innsync.crypto import SecretBox, generate_key
from innsync.db.engine import transaction
from innsync.errors import InvalidInputError
from innsync.events import kinds
from innsync.events.models import Event
from innsync.inbox.models import PullCursor
from innsync.xmlkit.parsing import attribute, parse_xml, path
from tests.channels.booking_com_live import (
    HOTEL_ID,
    RATES,
    ROOMS,
    LiveBooking,
    live_booking,
    schema_failures,
)
from tests.channels.live_xml import run_crash_worker

pytestmark = pytest.mark.backends("sqlite", "postgresql")
OTA = "http://www.opentravel.org/OTA/2003/05"
# Past the reconciler's (120 s), the processor's (120 s) and the acknowledgement's (30 s)
# leases a killed process left behind.
AFTER_LEASES = 300


@pytest.fixture
def live(committed: Engine, secret_box: SecretBox) -> Iterator[LiveBooking]:
    with live_booking(committed, secret_box) as running:
        yield running  # live_booking validates every XML document exchanged on exit


def seed_ari(live: LiveBooking) -> None:
    """Seasons, weekends and restrictions, so the 13 months need ranges, not one value."""
    start, end = live.day(-1).isoformat(), live.day(399).isoformat()
    entries = []
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


def test_a_13_month_full_sync_is_the_fewest_requests_the_rules_allow(live: LiveBooking) -> None:
    seed_ari(live)
    live.sync()

    calls = live.transport.ari_calls()
    paths = sorted(call.path.rsplit("/", 1)[1] for call in calls)
    # §3.1: one hotel per request, rooms to sell and restrictions in OTA_HotelAvailNotif,
    # prices in OTA_HotelRateAmountNotif: one message type each, 2 requests at the least.
    minimum_by_rules = len({"OTA_HotelAvailNotif", "OTA_HotelRateAmountNotif"})
    print(  # noqa: T201 (the issue asks for the figure printed)
        f"13-month full sync of {len(ROOMS)} room types x 2 rate plans: "
        f"{len(calls)} requests ({', '.join(paths)}); minimum the rules allow: "
        f"{minimum_by_rules}"
    )
    assert len(calls) == minimum_by_rules
    assert paths == ["OTA_HotelAvailNotif", "OTA_HotelRateAmountNotif"]
    # The one AvailNotif carries both rooms to sell and restrictions, for every room type.
    (avail_call,) = [c for c in calls if c.path.endswith("AvailNotif")]
    statuses = list(
        path(parse_xml(avail_call.request_body), "AvailStatusMessages", "AvailStatusMessage")
    )
    limits = [m for m in statuses if attribute(m, "BookingLimit") is not None]
    controls = [control for m in statuses for control in path(m, "StatusApplicationControl")]
    assert {attribute(c, "InvTypeCode") for c in controls} == set(ROOMS)
    assert {attribute(c, "RatePlanCode") for c in controls} == {None, *RATES}
    assert 0 < len(limits) < len(statuses)  # rooms to sell and restrictions, together
    assert schema_failures(live.transport.xml_documents()) == []
    assert all(call.status == 200 for call in calls)
    held = live.sim.get("/_sim/ari").json()["data"][HOTEL_ID]
    today = live.day(0)
    assert set(held["availability"]) == set(ROOMS)
    assert {rate for room in held["prices"].values() for rate in room} == set(RATES)
    last = max(day for room in held["availability"].values() for day in room)
    assert last >= (today + timedelta(days=365)).isoformat()  # at least 12 months ahead
    first = min(day for room in held["availability"].values() for day in room)
    assert first == today.isoformat()  # past dates never sent
    prices = held["prices"][ROOMS[0]][RATES[0]]
    assert prices[live.day(10).isoformat()] == {"default": "90.00"}
    assert prices[live.day(100).isoformat()] == {"default": "125.50"}
    # Ranges where values repeat: far fewer messages than room-days.
    (avail_body,) = [c.request_body for c in calls if c.path.endswith("RateAmountNotif")]
    messages = list(path(parse_xml(avail_body), "RateAmountMessages", "RateAmountMessage"))
    assert len(messages) <= 6 * 5  # vs 6 x 400 plan-days


def test_with_month_batches_the_full_sync_is_one_request_per_month_and_kind(
    committed: Engine, secret_box: SecretBox
) -> None:
    # §3.1 "batch by month" read strictly: the simulator refuses a request spanning two months.
    with live_booking(
        committed, secret_box, {"month_batches": True}, max_months_per_request=1
    ) as live:
        seed_ari(live)
        live.sync()
        calls = live.transport.ari_calls()
        months_per_call = []
        for call in calls:
            assert b"<Success/>" in call.response_body
            controls = parse_xml(call.request_body).iter(f"{{{OTA}}}StatusApplicationControl")
            months_per_call.append({attribute(c, "Start")[:7] for c in controls})  # type: ignore[index]
        assert all(len(months) == 1 for months in months_per_call)
        months = set().union(*months_per_call)
        avail = [c for c in calls if c.path.endswith("OTA_HotelAvailNotif")]
        prices = [c for c in calls if c.path.endswith("OTA_HotelRateAmountNotif")]
        print(  # noqa: T201 (the figure the issue asks for)
            f"13-month full sync by month: {len(calls)} requests over {len(months)} months "
            f"({len(avail)} AvailNotif, {len(prices)} RateAmountNotif); minimum the rules "
            f"allow: {2 * len(months)} (one AvailNotif and one RateAmountNotif a month)"
        )
        assert len(months) >= 13
        assert (len(avail), len(prices)) == (len(months), len(months))
        assert len(calls) == 2 * len(months)
        assert schema_failures(live.transport.xml_documents()) == []


def test_one_change_after_the_full_sync_is_one_request(live: LiveBooking) -> None:
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

    (call,) = live.transport.ari_calls(before)
    assert call.path.endswith("OTA_HotelRateAmountNotif")
    (message,) = path(parse_xml(call.request_body), "RateAmountMessages", "RateAmountMessage")
    (control,) = path(message, "StatusApplicationControl")
    assert (attribute(control, "Start"), attribute(control, "End")) == (
        live.day(20).isoformat(),
        live.day(20).isoformat(),
    )
    held = live.sim.get("/_sim/ari").json()["data"][HOTEL_ID]["prices"][ROOMS[0]][RATES[0]]
    assert held[live.day(20).isoformat()] == {"default": "111.00"}


def test_a_rate_sold_on_two_rooms_is_refused_at_mapping_time(live: LiveBooking) -> None:
    # Booking.com rate ids are the hotel's; innsync maps a code to one rate plan of one room
    # (CHECKLIST rate_plan_codes): the second mapping is refused with the reason, not dropped.
    with pytest.raises(InvalidInputError) as refused, transaction(live.sessions) as session:
        connections.set_mappings(
            session,
            live.tenant_id,
            live.connection_id,
            MappingsWrite(
                room_types=[
                    RoomTypeMappingIn(room_type_id=room, channel_code=code)
                    for room, code in zip(live.room_type_ids, ROOMS, strict=True)
                ],
                rate_plans=[
                    RatePlanMappingIn(rate_plan_id=live.rate_plan_ids[0], channel_code=RATES[0]),
                    RatePlanMappingIn(rate_plan_id=live.rate_plan_ids[2], channel_code=RATES[0]),
                ],
            ),
        )
    assert refused.value.status == 422
    assert [(p.pointer, p.detail) for p in refused.value.problems] == [
        ("/rate_plans/1/channel_code", f"code '{RATES[0]}' is already mapped at /rate_plans/0")
    ]


def test_new_modified_and_cancelled_are_applied_once_and_acknowledged(live: LiveBooking) -> None:
    reservation_id = live.book(nights=2)
    assert live.reconcile() == 1
    live.process()
    (stored,) = live.reservations()
    assert (stored.channel_booking_id, stored.status) == (reservation_id, "confirmed")
    assert (stored.departure - stored.arrival).days == 2

    live.clock.advance(30)
    answer = live.sim.post(
        f"/_sim/reservations/{reservation_id}/modify",
        {"departure": (stored.arrival + timedelta(days=3)).isoformat()},
    )
    assert answer.status_code == 201
    live.reconcile()
    live.process()
    (stored,) = live.reservations()
    assert (stored.departure - stored.arrival).days == 3

    live.clock.advance(30)
    assert live.sim.post(f"/_sim/reservations/{reservation_id}/cancel", {}).status_code == 201
    live.reconcile()
    live.process()
    (stored,) = live.reservations()
    assert stored.status == "cancelled"

    # Pulled again: nothing new is stored, nothing applied twice.
    live.clock.advance(30)
    live.reconcile()
    live.process()
    assert [item.status for item in live.items()] == ["applied", "applied", "applied"]
    assert {item.ack_status for item in live.items()} == {"done"}
    queues = live.queues()
    assert queues["counts"] == {"acknowledged": 3}
    assert [entry["res_status"] for entry in queues["data"]] == ["Commit", "Modify", "Cancel"]
    with live.sessions() as session:
        events = list(session.scalars(select(Event.kind).where(Event.tenant_id == live.tenant_id)))
    assert events.count(kinds.RESERVATION_CREATED) == 1
    assert events.count(kinds.RESERVATION_MODIFIED) == 1
    assert events.count(kinds.RESERVATION_CANCELLED) == 1


def test_a_crash_between_storing_and_acknowledging_loses_and_duplicates_nothing(
    committed: Engine, secret_box: SecretBox
) -> None:
    # With response tokens (§3.1 409): the acknowledging process is not the pulling one.
    with live_booking(committed, secret_box, response_tokens=True) as live:
        reservation_id = live.book()
        assert live.reconcile() == 1  # stored durably
        # The process dies before acknowledging: every call to the channel fails from here.
        live.sim.post("/_sim/faults", {"server_error_rate": 1.0})
        live.process()
        assert len(live.reservations()) == 1
        assert live.queues()["counts"] == {"pending": 1}
        (item,) = live.items()
        assert item.ack_status == "due"

        live.sim.request("DELETE", "/_sim/faults")
        live.clock.advance(60)
        live.reconcile()  # the unacknowledged reservation is pulled again
        live.clock.advance(60)
        live.process()

        (stored,) = live.reservations()
        assert stored.channel_booking_id == reservation_id
        (item,) = live.items()  # kept once
        assert (item.status, item.ack_status) == ("applied", "done")
        assert live.queues()["counts"] == {"acknowledged": 1}
        assert schema_failures(live.transport.xml_documents()) == []


class ProcessKilled(BaseException):
    """Stands for SIGKILL: no handler catches it and nothing after it runs."""


def test_a_process_killed_after_storing_and_before_acknowledging_restarts_cleanly(
    committed: Engine, secret_box: SecretBox, monkeypatch: pytest.MonkeyPatch
) -> None:
    with live_booking(committed, secret_box, response_tokens=True) as live:
        reservation_id = live.book()

        async def killed(adapter: BookingComAdapter, revision_id: str) -> None:
            raise ProcessKilled

        monkeypatch.setattr(BookingComAdapter, "acknowledge_revision", killed)
        assert live.reconcile() == 1  # stored durably
        with pytest.raises(ProcessKilled):  # applied and committed, killed as it acknowledges
            live.process()
        monkeypatch.undo()
        assert live.queues()["counts"] == {"pending": 1}

        live.restart()
        live.clock.advance(20)
        live.reconcile()  # still in Booking.com's queue: pulled again, stored nothing new
        live.clock.advance(60)
        live.process()

        (stored,) = live.reservations()
        assert stored.channel_booking_id == reservation_id
        (item,) = live.items()
        assert (item.status, item.ack_status) == ("applied", "done")
        acks = [
            e.status
            for e in live.transport.exchanges
            if e.method == "POST" and e.path.endswith("OTA_HotelResNotif")
        ]
        assert acks == [200]  # acknowledged once, with the new process's response token
        assert live.queues()["counts"] == {"acknowledged": 1}
        with live.sessions() as session:
            created = session.scalars(
                select(Event.id).where(Event.kind == kinds.RESERVATION_CREATED)
            ).all()
        assert len(created) == 1
        assert schema_failures(live.transport.xml_documents()) == []


def test_sigkill_after_storing_and_after_applying_loses_and_duplicates_nothing(
    committed: Engine,
) -> None:
    key = generate_key()
    with live_booking(committed, SecretBox([key])) as live:
        made = [live.book(room=n, offset=10 + n) for n in range(3)]

        # Killed right after the pull's revisions were committed to the inbox.
        assert run_crash_worker("booking_com", committed, key, "stored", 0) == -signal.SIGKILL
        assert [item.status for item in live.items()] == ["pending"] * 3
        assert live.reservations() == []
        # Restarted past the leases, killed again as it acknowledges the first it applied.
        assert (
            run_crash_worker("booking_com", committed, key, "acknowledge", AFTER_LEASES)
            == -signal.SIGKILL
        )
        states = Counter((i.status, i.ack_status) for i in live.items())
        assert states == Counter({("applied", "due"): 1, ("pending", None): 2})
        assert len(live.reservations()) == 1
        assert live.queues()["counts"] == {"pending": 3}  # nothing acknowledged yet
        # Restarted once more: each reservation applied once and acknowledged once.
        assert run_crash_worker("booking_com", committed, key, "none", 2 * AFTER_LEASES) == 0

        assert sorted(r.channel_booking_id for r in live.reservations()) == sorted(made)
        assert {(i.status, i.ack_status) for i in live.items()} == {("applied", "done")}
        assert len(live.items()) == 3
        assert live.queues()["counts"] == {"acknowledged": 3}
        requests = live.sim.get("/_sim/requests").json()["data"]
        acks = [
            row
            for row in requests
            if row["method"] == "POST" and row["path"].endswith("OTA_HotelResNotif")
        ]
        assert [row["status"] for row in acks] == [200] * 3
        with live.sessions() as session:
            created = session.scalars(
                select(Event.id).where(Event.kind == kinds.RESERVATION_CREATED)
            ).all()
        assert len(created) == 3


def test_one_unreadable_reservation_is_kept_for_audit_and_the_others_go_through(
    live: LiveBooking,
) -> None:
    good = [live.book(offset=10), live.book(room=1, offset=20)]
    bad = live.book(room=2, offset=30, flaw="stay_reversed")  # schema-valid, impossible stay
    good.append(live.book(offset=40))

    assert live.reconcile() == 1
    live.process()
    assert {r.channel_booking_id for r in live.reservations()} == set(good)
    (kept,) = [item for item in live.items() if item.status == "rejected"]
    assert (kept.source, kept.ack_status) == ("pull", None)
    assert bad in kept.reason
    assert bad.encode() in kept.body  # the message as Booking.com sent it, for audit
    # Pulled again and again: kept once, told once, and the pulls count as healthy.
    for _ in range(5):
        live.clock.advance(20)
        live.reconcile()
        live.process()
    assert [item.status for item in live.items()].count("rejected") == 1
    with live.sessions() as session:
        told = list(
            session.scalars(
                select(Event.payload).where(Event.kind == kinds.CONNECTION_NEEDS_ATTENTION)
            )
        )
        (cursor,) = session.scalars(select(PullCursor)).all()
    assert [(payload["status"], payload["inbox_item_id"]) for payload in told] == [
        ("unreadable_revision", kept.id)
    ]
    assert cursor.failures == 0
    # The others are acknowledged; the unreadable one is left to Booking.com's e-mail to the
    # hotel, innsync having told the PMS half an hour earlier.
    pending = [entry for entry in live.queues()["data"] if entry["status"] == "pending"]
    assert [entry["reservation_id"] for entry in pending] == [bad]
    assert live.queues()["counts"] == {"acknowledged": len(good), "pending": 1}


def test_no_reservation_reaches_the_email_fallback_with_20_percent_failed_calls(
    committed: Engine, secret_box: SecretBox
) -> None:
    with live_booking(committed, secret_box) as live:
        live.sim.post("/_sim/faults", {"server_error_rate": 0.2, "seed": 7})
        draw = random.Random(3)
        made = []
        # 90 minutes of pulls on the default cadence (20 s), a booking every few minutes.
        for step in range(270):
            if step % 9 == 0:
                made.append(live.book(offset=5 + draw.randint(0, 200)))
            live.reconcile()
            live.process()
            live.clock.advance(20)
        live.sim.request("DELETE", "/_sim/faults")
        live.clock.advance(60)
        live.reconcile()
        live.process()

        counters = live.counters()
        failed = [e for e in live.transport.exchanges if e.status >= 500]
        print(  # noqa: T201 (the figure the issue asks for)
            f"{len(made)} reservations, {len(live.transport.exchanges)} calls, "
            f"{len(failed)} failed (5xx); fell back to e-mail: {counters['fell_back_to_email']}"
        )
        assert failed  # the faults really happened
        assert counters["fell_back_to_email"] == 0
        assert {r.channel_booking_id for r in live.reservations()} == set(made)
        assert live.queues()["counts"] == {"acknowledged": len(made)}
        assert schema_failures(live.transport.xml_documents()) == []


@pytest.mark.parametrize("threshold", [None, 8])
def test_pulls_failing_for_minutes_tell_the_pms_well_before_the_email_fallback(
    committed: Engine, secret_box: SecretBox, threshold: int | None
) -> None:
    options = {} if threshold is None else {"attention_after_failed_pulls": threshold}
    with live_booking(committed, secret_box, options) as live:
        expected = (
            threshold or BookingComConfig.model_fields["attention_after_failed_pulls"].get_default()
        )
        live.sim.post("/_sim/faults", {"server_error_rate": 1.0})
        started = live.clock()
        told: list[dict[str, object]] = []
        # Every 10 s of the half hour before Booking.com e-mails the hotel (§3.1).
        while live.clock() - started < timedelta(minutes=30):
            live.reconcile()
            with live.sessions() as session:
                told = list(
                    session.scalars(
                        select(Event.payload).where(Event.kind == kinds.CONNECTION_NEEDS_ATTENTION)
                    )
                )
                (cursor,) = session.scalars(select(PullCursor)).all()
            if told:
                break
            live.clock.advance(10)
        told_after = live.clock() - started
        print(  # noqa: T201 (the figure the issue asks for)
            f"pulls failing: the PMS told after {told_after.total_seconds() / 60:.1f} minutes "
            f"({cursor.failures} failed pulls; threshold {expected}); e-mail fallback at 30"
        )
        assert [payload["status"] for payload in told] == ["pull_failing"]
        assert cursor.failures == expected
        assert told_after < timedelta(minutes=25)


def test_after_a_long_outage_the_next_pull_is_never_further_off_than_the_retry_cap(
    committed: Engine, secret_box: SecretBox
) -> None:
    cap = timedelta(seconds=BookingComConfig.model_fields["pull_retry_cap_seconds"].get_default())
    with live_booking(committed, secret_box, {}) as live:
        live.sim.post("/_sim/faults", {"server_error_rate": 1.0})
        waits: list[timedelta] = []
        for _ in range(10):  # 10 s doubling reaches the cap by the 5th failure
            live.reconcile()
            with live.sessions() as session:
                (cursor,) = session.scalars(select(PullCursor)).all()
            waits.append(cursor.next_pull_at - live.clock())
            live.clock.advance(waits[-1].total_seconds())
        assert waits[0] < waits[1] < waits[2]  # backing off
        assert max(waits) == cap == waits[-1]  # and stopping at the cap, not at 15 minutes

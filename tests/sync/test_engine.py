"""The outbound engine end to end against the fake channel, on every database."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from innsync.channels.errors import ChannelTimedOutError, ChannelUnavailableError
from innsync.channels.types import PushRequest, PushResult, RateUpdate
from innsync.connections.models import Connection
from innsync.crypto import SecretBox
from innsync.db.engine import transaction
from innsync.events.models import Event
from innsync.inbox.models import InboxItem
from innsync.reservations.schemas import ReservationCreate, RoomIn
from innsync.reservations.service import create_direct
from innsync.sync.models import BucketLease, DeadLetter, SyncLogEntry
from innsync.sync.worker import ROUND_TRIPS, SyncWorker
from tests.conftest import Db
from tests.sync.engine_fixtures import Clock, SyncedHotel, build_hotel


def run(coroutine: object) -> object:
    return asyncio.run(coroutine)  # type: ignore[arg-type]


def kinds_sent(hotel: SyncedHotel) -> list[tuple[str, int]]:
    return [(request.kind, request.entry_count) for request in hotel.channel.requests]


def assert_channel_matches_innsync(hotel: SyncedHotel) -> None:
    availability, rates = hotel.desired()
    assert hotel.channel.availability_state() == availability
    assert hotel.channel.rates_state() == rates


def test_full_sync_of_500_days_is_one_request_of_each_kind(db: Db, secret_box: SecretBox) -> None:
    hotel = build_hotel(db.sessions, secret_box, Clock())
    run(hotel.drain())
    assert [request.kind for request in hotel.channel.requests] == ["availability", "rates"]
    assert all(request.outcome == "accepted" for request in hotel.channel.requests)
    assert_channel_matches_innsync(hotel)
    availability, rates = hotel.desired()
    assert len(availability) == 2
    assert len(rates) == 4
    # The horizon from today: yesterday is innsync's, but no channel takes a past date.
    assert all(len(days) == 500 for days in rates.values())


def test_one_date_of_one_rate_plan_is_one_request_with_one_entry(
    db: Db, secret_box: SecretBox
) -> None:
    hotel = build_hotel(db.sessions, secret_box, Clock())
    run(hotel.drain())
    before = len(hotel.channel.requests)
    hotel.ari(
        {
            "rate_plan_id": str(hotel.rate_plan_ids[1]),
            "date_from": hotel.day(40),
            "date_to": hotel.day(40),
            "price": "777.00",
        }
    )
    run(hotel.drain())
    assert kinds_sent(hotel)[before:] == [("rates", 1)]
    sent = hotel.channel.requests[-1].request.updates[0]
    assert sent.values.fields() == {"price"}  # only the field that differs
    assert_channel_matches_innsync(hotel)


def test_changes_made_together_go_in_one_request(db: Db, secret_box: SecretBox) -> None:
    hotel = build_hotel(db.sessions, secret_box, Clock())
    run(hotel.drain())
    before = len(hotel.channel.requests)
    for offset, plan_id in enumerate(hotel.rate_plan_ids):
        hotel.ari(
            {
                "rate_plan_id": str(plan_id),
                "date_from": hotel.day(10 + offset),
                "date_to": hotel.day(12 + offset),
                "min_stay_arrival": 2,
                "stop_sell": True,
            }
        )
    run(hotel.drain())
    assert kinds_sent(hotel)[before:] == [("rates", 4)]
    assert_channel_matches_innsync(hotel)


def test_rewriting_equal_values_sends_nothing(db: Db, secret_box: SecretBox) -> None:
    hotel = build_hotel(db.sessions, secret_box, Clock())
    run(hotel.drain())
    before = len(hotel.channel.requests)
    plan, stay_date = str(hotel.rate_plan_ids[0]), hotel.clock().date() + timedelta(days=5)
    original = hotel.desired()[1][("R0", "P0")][stay_date].price
    for price in ("1.00", str(original)):  # changed and changed back before the worker runs
        hotel.ari(
            {
                "rate_plan_id": plan,
                "date_from": hotel.day(5),
                "date_to": hotel.day(5),
                "price": price,
            }
        )
    run(hotel.drain())
    assert kinds_sent(hotel)[before:] == []
    assert hotel.pending() == 0


def test_a_booking_sends_only_availability(db: Db, secret_box: SecretBox) -> None:
    hotel = build_hotel(db.sessions, secret_box, Clock())
    run(hotel.drain())
    before = len(hotel.channel.requests)
    with transaction(db.sessions) as session:
        create_direct(
            session,
            hotel.tenant_id,
            hotel.property_id,
            ReservationCreate(
                arrival=hotel.clock().date() + timedelta(days=3),
                departure=hotel.clock().date() + timedelta(days=5),
                rooms=[RoomIn(room_type_id=hotel.room_type_ids[0], adults=2, amount=200)],
            ),
        )
    run(hotel.drain())
    assert kinds_sent(hotel)[before:] == [("availability", 1)]
    update = hotel.channel.requests[-1].request.updates[0]
    assert (update.room_type_code, update.dates.nights, update.availability) == ("R0", 2, 7)
    assert_channel_matches_innsync(hotel)


def test_auth_failure_needs_attention_and_keeps_the_work(db: Db, secret_box: SecretBox) -> None:
    hotel = build_hotel(db.sessions, secret_box, Clock())
    hotel.channel.fail_next(1, "auth")
    run(hotel.worker.run_once())
    with db.sessions() as session:
        connection = session.get_one(Connection, hotel.connection_id)
        assert connection.state == "needs_attention"
        kinds = list(session.scalars(select(Event.kind)))
    assert kinds == ["connection.needs_attention"]
    assert hotel.pending() > 0
    assert run(hotel.worker.run_once()) == 0  # nothing is sent while it needs attention
    with transaction(db.sessions) as session:
        session.get_one(Connection, hotel.connection_id).state = "connected"
    run(hotel.drain())
    assert_channel_matches_innsync(hotel)


def test_unavailable_backs_off_then_converges(db: Db, secret_box: SecretBox) -> None:
    hotel = build_hotel(db.sessions, secret_box, Clock())
    hotel.channel.fail_next(2, "unavailable", retry_after=30)
    assert run(hotel.worker.run_once()) == 1
    with db.sessions() as session:
        lease = session.scalars(select(BucketLease)).one()
        assert lease.not_before is not None
        assert lease.not_before >= hotel.clock() + timedelta(seconds=30)  # retry-after honoured
    assert run(hotel.worker.run_once()) == 0  # too early: nothing sent
    run(hotel.drain(step_seconds=60))
    outcomes = [request.outcome for request in hotel.channel.requests]
    assert outcomes.count("unavailable") == 2
    assert_channel_matches_innsync(hotel)


def test_refused_entries_become_dead_letters_and_can_be_replayed(
    db: Db, secret_box: SecretBox
) -> None:
    hotel = build_hotel(db.sessions, secret_box, Clock())
    hotel.channel.reject_entries(
        lambda update: (
            "closed by the channel" if getattr(update, "rate_plan_code", "") == "P3" else None
        )
    )
    run(hotel.drain())
    with db.sessions() as session:
        letters = list(session.scalars(select(DeadLetter)))
        log = list(session.scalars(select(SyncLogEntry.outcome)))
    assert {letter.reason for letter in letters} == {"closed by the channel"}
    assert {letter.subject_id for letter in letters} == {hotel.rate_plan_ids[3]}
    assert sorted(log) == ["accepted", "partial"]
    hotel.channel.clear_faults()
    from innsync.connections.service import replay_dead_letters

    with transaction(db.sessions) as session:
        assert replay_dead_letters(session, hotel.tenant_id, hotel.connection_id) == len(letters)
    run(hotel.drain())
    assert_channel_matches_innsync(hotel)


def test_bursts_never_exceed_the_channel_limit(db: Db, secret_box: SecretBox) -> None:
    hotel = build_hotel(db.sessions, secret_box, Clock())
    run(hotel.drain())
    plan = str(hotel.rate_plan_ids[0])
    for change in range(25):  # one change every two seconds, each alone in its pass
        hotel.ari(
            {
                "rate_plan_id": plan,
                "date_from": hotel.day(change),
                "date_to": hotel.day(change),
                "price": f"{200 + change}.00",
            }
        )
        run(hotel.worker.run_once())
        hotel.clock.advance(2)
    run(hotel.drain())
    outcomes = [request.outcome for request in hotel.channel.requests]
    assert "rate_limited" not in outcomes
    times = [request.at for request in hotel.channel.requests if request.kind == "rates"]
    assert all(sum(1 for t in times if start <= t < start + 60) <= 10 for start in times)
    assert len(times) < 1 + 25  # waiting changes were coalesced into fewer requests
    assert_channel_matches_innsync(hotel)


@pytest.mark.parametrize(("rates_burst_share", "sent_at_once"), [(None, 1), (0.3, 3)])
def test_rates_go_at_an_even_pace_unless_a_burst_is_configured(
    db: Db, secret_box: SecretBox, rates_burst_share: float | None, sent_at_once: int
) -> None:
    hotel = build_hotel(db.sessions, secret_box, Clock())
    run(hotel.drain())
    if rates_burst_share is not None:  # as INNSYNC_SYNC_RATES_BURST_SHARE sets it
        hotel.worker = SyncWorker(
            db.sessions,
            lambda _connection: hotel.channel,
            clock=hotel.clock,
            holder="test-worker",
            rates_burst_share=rates_burst_share,
        )
    hotel.clock.advance(61)  # a fresh window
    before = len(hotel.channel.requests)
    for change in range(3):  # three changes a second apart, each alone in its pass
        hotel.ari(
            {
                "rate_plan_id": str(hotel.rate_plan_ids[0]),
                "date_from": hotel.day(change + 1),
                "date_to": hotel.day(change + 1),
                "price": f"{400 + change}.00",
            }
        )
        run(hotel.worker.run_once())
        hotel.clock.advance(1)
    sent = [request for request in hotel.channel.requests[before:] if request.kind == "rates"]
    assert len(sent) == sent_at_once
    run(hotel.drain())
    assert_channel_matches_innsync(hotel)


def test_drift_audit_finds_channel_side_changes_and_the_worker_repairs_them(
    db: Db, secret_box: SecretBox
) -> None:
    from innsync.channels.types import AvailabilityUpdate, PushRequest, RateUpdate, RateValues
    from innsync.stay_dates import DateRange
    from innsync.sync.drift import audit_connection

    hotel = build_hotel(db.sessions, secret_box, Clock())
    run(hotel.drain())
    # Someone edits the channel's extranet behind innsync's back.
    day = hotel.clock().date() + timedelta(days=20)
    tampered = DateRange(day, day + timedelta(days=3))
    run(
        hotel.channel.push_availability(
            PushRequest("availability", (AvailabilityUpdate("R0", tampered, 0),))
        )
    )
    run(
        hotel.channel.push_rates(
            PushRequest("rates", (RateUpdate("R1", "P2", tampered, RateValues(stop_sell=True)),))
        )
    )
    hotel.clock.advance(120)
    before = len(hotel.channel.requests)

    report = run(audit_connection(db.sessions, hotel.connection_id, hotel.channel))
    assert (report.availability_dates, report.rate_dates) == (3, 3)  # type: ignore[attr-defined]
    run(hotel.drain())
    assert kinds_sent(hotel)[before:] == [("availability", 1), ("rates", 1)]
    assert_channel_matches_innsync(hotel)
    again = run(audit_connection(db.sessions, hotel.connection_id, hotel.channel))
    assert (again.availability_dates, again.rate_dates) == (0, 0)  # type: ignore[attr-defined]


# The outage test moves the clock on by 5 h 10 min; started in the evening it would cross
# midnight, and the property's window would leave behind a day the channel still holds. It runs
# on a fixed morning instead, whatever today is.
OUTAGE_MORNING = datetime(2027, 1, 11, 8, 0, tzinfo=UTC)


@time_machine.travel(OUTAGE_MORNING, tick=True)
def test_repeated_outages_open_the_breaker_and_tell_the_pms(db: Db, secret_box: SecretBox) -> None:
    # Five hours and more pass below: start in the morning so that the day does not change
    # (a new day moves the horizon, which the daily full sync, not this test, takes care of).
    morning = datetime.now(UTC).replace(hour=6, minute=0, second=0, microsecond=0)
    hotel = build_hotel(db.sessions, secret_box, Clock(morning))
    hotel.channel.fail_next(5, "unavailable", retry_after=1)
    for _ in range(5):
        run(hotel.worker.run_once())
        hotel.clock.advance(3600)  # past any backoff
    with db.sessions() as session:
        connection = session.get_one(Connection, hotel.connection_id)
        assert connection.consecutive_failures == 5
        assert connection.breaker_open_until is not None
        assert connection.breaker_open_until > hotel.clock() - timedelta(hours=1)
        kinds = list(session.scalars(select(Event.kind)))
    assert kinds == ["sync.failing"]
    hotel.clock.advance(600)  # the breaker closes after its pause; the work is all still there
    run(hotel.drain())
    assert_channel_matches_innsync(hotel)
    with db.sessions() as session:
        assert session.get_one(Connection, hotel.connection_id).consecutive_failures == 0


@time_machine.travel(OUTAGE_MORNING, tick=True)
def test_rate_limit_waits_never_open_the_breaker(db: Db, secret_box: SecretBox) -> None:
    # A channel that says "wait" is healthy: the pushes wait for it, the breaker stays shut
    # and the PMS hears nothing, however many times it says so.
    morning = datetime.now(UTC).replace(hour=6, minute=0, second=0, microsecond=0)
    hotel = build_hotel(db.sessions, secret_box, Clock(morning))
    hotel.channel.fail_next(8, "throttled", retry_after=30)
    for _ in range(8):
        run(hotel.worker.run_once())
        hotel.clock.advance(3600)  # past any backoff
    with db.sessions() as session:
        connection = session.get_one(Connection, hotel.connection_id)
        assert connection.consecutive_failures == 0
        assert connection.breaker_open_until is None
        assert list(session.scalars(select(Event.kind))) == []
        outcomes = set(session.scalars(select(SyncLogEntry.outcome)))
    assert "throttled" in outcomes
    run(hotel.drain())
    assert_channel_matches_innsync(hotel)


def test_a_push_the_channel_takes_wakes_the_connections_inbound_work(
    db: Db, secret_box: SecretBox
) -> None:
    # A webhook whose booking could not be fetched waits with a backoff; once the channel
    # takes a push, it is fetched at once rather than minutes later.
    hotel = build_hotel(db.sessions, secret_box, Clock())
    backed_off = hotel.clock() + timedelta(minutes=10)
    with transaction(db.sessions) as session:
        item = InboxItem(
            connection_id=hotel.connection_id,
            tenant_id=hotel.tenant_id,
            source="webhook",
            dedupe_key="revision-1",
            headers={},
            body=b"{}",
            reason="channel unavailable: 502 Bad Gateway",
            attempts=5,
            not_before=backed_off,
        )
        session.add(item)
    run(hotel.drain())
    assert hotel.channel.requests
    with db.sessions() as session:
        woken = session.scalars(select(InboxItem)).one()
        assert woken.not_before is not None
        assert woken.not_before < backed_off
        assert woken.not_before <= hotel.clock()


def stop_sell(hotel: SyncedHotel, closed: bool) -> None:
    day = hotel.day(40)
    hotel.ari(
        {
            "rate_plan_id": str(hotel.rate_plan_ids[0]),
            "date_from": day,
            "date_to": day,
            "stop_sell": closed,
        }
    )


class Died(BaseException):
    """The worker process ends here (SIGKILL): nothing after the call runs."""


def test_a_push_the_channel_took_before_failing_is_not_counted_as_unsent(
    db: Db, secret_box: SecretBox
) -> None:
    # A time-out or a 5xx after the channel took the call: the channel holds the stop-sell.
    # When the PMS reverts it before the next push, the reverted value equals what was last
    # acknowledged, yet it must be sent: the channel's value is not known.
    hotel = build_hotel(db.sessions, secret_box, Clock())
    stop_sell(hotel, False)
    run(hotel.drain())
    take = hotel.channel.push_rates

    async def taken_then_lost(request: PushRequest[RateUpdate]) -> PushResult:
        await take(request)
        raise ChannelUnavailableError("timed out after the channel took the call")

    hotel.channel.push_rates = taken_then_lost  # type: ignore[method-assign]
    stop_sell(hotel, True)
    run(hotel.worker.run_once())
    del hotel.channel.push_rates  # the channel answers again
    stop_sell(hotel, False)
    hotel.clock.advance(600)
    run(hotel.drain())
    assert_channel_matches_innsync(hotel)


def test_a_bucket_taken_from_a_dead_worker_sends_its_marked_dates_whole(
    db: Db, secret_box: SecretBox
) -> None:
    # The worker died after the channel took its call and before it recorded the answer; the
    # PMS reverted the change meanwhile. The next holder cannot know what the channel holds.
    hotel = build_hotel(db.sessions, secret_box, Clock())
    stop_sell(hotel, False)
    run(hotel.drain())
    hotel.clock.advance(61)  # a fresh window: the dying worker's push goes at once
    take = hotel.channel.push_rates

    async def taken_then_died(request: PushRequest[RateUpdate]) -> PushResult:
        await take(request)
        raise Died

    hotel.channel.push_rates = taken_then_died  # type: ignore[method-assign]
    dying = SyncWorker(
        db.sessions, lambda _connection: hotel.channel, clock=hotel.clock, holder="dying"
    )
    stop_sell(hotel, True)
    with pytest.raises(Died):
        run(dying.run_once())
    del hotel.channel.push_rates
    stop_sell(hotel, False)
    hotel.clock.advance(60)  # past the dead worker's lease
    run(hotel.drain())
    assert_channel_matches_innsync(hotel)


def test_a_timed_out_push_is_counted_as_late_as_it_could_land(
    db: Db, secret_box: SecretBox
) -> None:
    # The channel may take the call (and count it against its limit) after innsync gave up:
    # the limiter's margin, sized from the bucket's round trips, must reach that far.
    hotel = build_hotel(db.sessions, secret_box, Clock())

    async def timed_out(request: object) -> PushResult:
        raise ChannelTimedOutError("timed out", retry_after=3.0)

    hotel.channel.push_availability = timed_out  # type: ignore[method-assign]
    hotel.channel.push_rates = timed_out  # type: ignore[method-assign]
    run(hotel.worker.run_once())
    with db.sessions() as session:
        lease = session.scalars(select(BucketLease)).one()
        assert lease.not_before is not None
        assert lease.not_before >= hotel.clock() + timedelta(seconds=3)
        assert max(lease.limiter_state[ROUND_TRIPS]) >= 3.0

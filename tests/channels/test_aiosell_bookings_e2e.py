"""Aiosell reservations end to end over real HTTP: the simulator's generator posts book, modify
and cancel (§1.10) to innsync's ``/hooks/{token}`` with Basic auth; the inbox applies them.

Issue #12's evidence: each of book, modify and cancel is applied once, also when delivered
twice, out of order, or the cancel before the book; a modify arriving after a cancel never
revives the booking. Every case runs with the full cancel body and with the short one (action,
hotelCode, channel, bookingId only: §1.10, 3P). Every delivery is answered with the documented
reply, so the simulator counts it delivered.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import Engine

from innsync.crypto import SecretBox
from innsync.events import kinds
from tests.channels.aiosell_live import HOOK_PASSWORD, HOOK_USER, LiveAiosell, live_aiosell

pytestmark = pytest.mark.backends("sqlite", "postgresql")

HELD = 600  # seconds the reorder fault holds a delivery back


@pytest.fixture(params=["full", "minimal"])
def live(
    request: pytest.FixtureRequest, committed: Engine, secret_box: SecretBox
) -> Iterator[LiveAiosell]:
    with live_aiosell(committed, secret_box, cancel_payload=request.param) as running:
        running.faults(webhook_reorder_delay_seconds=HELD)
        yield running


def all_delivered_with_the_documented_reply(live: LiveAiosell) -> None:
    deliveries = live.deliveries()
    assert deliveries
    for delivery in deliveries:
        assert delivery["status"] == "delivered", delivery
        assert {a["status_code"] for a in delivery["attempts"]} == {200}, delivery
        assert {a["error"] for a in delivery["attempts"]} == {None}, delivery


def test_book_modify_cancel_are_each_applied_once_when_delivered_twice(
    live: LiveAiosell,
) -> None:
    live.faults(webhook_duplicate_rate=1.0)
    arrival = live.clock().date() + timedelta(days=10)
    booking_id = live.book(arrival, nights=2)
    live.inbound()
    (reservation,) = live.reservations()
    assert (reservation.channel_booking_id, reservation.status) == (booking_id, "confirmed")
    assert (reservation.arrival, reservation.departure) == (arrival, arrival + timedelta(days=2))
    assert live.sold_nights() == 2

    live.modify(booking_id, nights=3, sell_rate=4100.0)
    live.inbound()
    (reservation,) = live.reservations()
    assert reservation.departure == arrival + timedelta(days=3)
    assert live.sold_nights() == 3
    modified_total = reservation.total_amount

    live.cancel(booking_id)
    live.inbound()
    (reservation,) = live.reservations()
    assert reservation.status == "cancelled"
    assert live.sold_nights() == 0
    # Short or full, the cancel keeps the stay and the amount the booking had.
    assert (reservation.arrival, reservation.departure) == (arrival, arrival + timedelta(days=3))
    assert reservation.total_amount == modified_total

    # Every push was sent twice; the second copy was answered but stored nothing.
    deliveries = live.deliveries()
    assert [len(d["attempts"]) for d in deliveries] == [2, 2, 2]
    all_delivered_with_the_documented_reply(live)
    assert [item.status for item in live.items()] == ["applied", "applied", "applied"]
    events = live.event_kinds()
    assert events.count(kinds.RESERVATION_CREATED) == 1
    assert events.count(kinds.RESERVATION_MODIFIED) == 1
    assert events.count(kinds.RESERVATION_CANCELLED) == 1


def test_a_book_delivered_after_its_modify_changes_nothing(live: LiveAiosell) -> None:
    arrival = live.clock().date() + timedelta(days=20)
    live.faults(webhook_reorder_rate=1.0)
    booking_id = live.book(arrival, nights=2)
    live.faults(webhook_reorder_rate=0.0)
    live.modify(booking_id, nights=4)
    live.inbound()  # the modify first: it makes the booking
    live.release_held()
    live.inbound()  # then the book, older than the modify: stale

    (reservation,) = live.reservations()
    assert (reservation.status, reservation.departure) == ("confirmed", arrival + timedelta(4))
    assert live.sold_nights() == 4
    assert [item.status for item in live.items()] == ["applied", "ignored"]

    live.cancel(booking_id)
    live.inbound()
    (reservation,) = live.reservations()
    assert reservation.status == "cancelled"
    assert live.sold_nights() == 0
    all_delivered_with_the_documented_reply(live)
    events = live.event_kinds()
    assert events.count(kinds.RESERVATION_CREATED) == 1
    assert events.count(kinds.RESERVATION_MODIFIED) == 0
    assert events.count(kinds.RESERVATION_CANCELLED) == 1


def test_a_cancel_before_its_book_leaves_the_booking_cancelled(live: LiveAiosell) -> None:
    arrival = live.clock().date() + timedelta(days=30)
    live.faults(webhook_reorder_rate=1.0)
    booking_id = live.book(arrival, nights=3)
    live.faults(webhook_reorder_rate=0.0)
    live.cancel(booking_id)
    live.inbound()  # the cancel of a booking innsync does not know: a tombstone
    (tombstone,) = live.reservations()
    assert (tombstone.channel_booking_id, tombstone.status) == (booking_id, "cancelled")
    assert live.sold_nights() == 0

    live.release_held()
    live.inbound()  # the book comes late and must not make a live booking
    (reservation,) = live.reservations()
    assert reservation.status == "cancelled"
    assert live.sold_nights() == 0
    assert [item.status for item in live.items()] == ["applied", "ignored"]
    all_delivered_with_the_documented_reply(live)
    events = live.event_kinds()
    assert kinds.RESERVATION_CREATED not in events
    assert events.count(kinds.RESERVATION_CANCELLED) == 1


def test_a_modify_arriving_after_the_cancel_never_revives_the_booking(live: LiveAiosell) -> None:
    arrival = live.clock().date() + timedelta(days=15)
    booking_id = live.book(arrival, nights=2)
    live.inbound()
    live.faults(webhook_reorder_rate=1.0)
    live.modify(booking_id, nights=5)
    live.faults(webhook_reorder_rate=0.0)
    live.cancel(booking_id)
    live.inbound()
    (cancelled,) = live.reservations()
    assert cancelled.status == "cancelled"

    live.release_held()
    live.inbound()  # the modify, made before the cancel but delivered after it
    (reservation,) = live.reservations()
    assert reservation.status == "cancelled"
    assert (reservation.revision, reservation.departure) == (
        cancelled.revision,
        cancelled.departure,
    )
    assert live.sold_nights() == 0
    assert [item.status for item in live.items()] == ["applied", "applied", "ignored"]
    all_delivered_with_the_documented_reply(live)
    assert live.event_kinds().count(kinds.RESERVATION_MODIFIED) == 0


def test_unreadable_and_unverified_pushes_are_kept_and_never_answered_with_a_5xx(
    live: LiveAiosell,
) -> None:
    url = f"{live.innsync_url}/hooks/{live.token}"
    auth = httpx.BasicAuth(HOOK_USER, HOOK_PASSWORD)
    with httpx.Client(timeout=30) as http:
        unreadable = http.post(url, content=b'{"action": "book"}', auth=auth)
        wrong = http.post(url, json={"action": "book"}, auth=httpx.BasicAuth(HOOK_USER, "no"))
        again = http.post(url, content=b'{"action": "book"}', auth=auth)
    # Stored for audit, but Aiosell is told it was not understood (a 4xx it does not retry).
    assert unreadable.status_code == 400
    assert unreadable.json()["success"] is False
    assert again.status_code == 400  # a duplicate is answered the same way
    assert wrong.status_code == 401
    live.inbound()
    assert sorted(item.status for item in live.items()) == ["rejected", "rejected"]
    assert live.reservations() == []
    assert live.sold_nights() == 0
    assert kinds.CONNECTION_NEEDS_ATTENTION in live.event_kinds()


def test_pushes_that_never_arrive_are_read_back_by_the_reconciler(live: LiveAiosell) -> None:
    arrival = live.clock().date() + timedelta(days=40)
    live.faults(webhook_failure_rate=1.0)
    booking_id = live.book(arrival, nights=2)
    assert live.items() == []  # every delivery failed

    assert live.reconcile() == 1
    live.inbound()
    (reservation,) = live.reservations()
    assert (reservation.channel_booking_id, reservation.status) == (booking_id, "confirmed")
    assert live.sold_nights() == 2

    live.faults(webhook_failure_rate=0.0)
    live.modify(booking_id, nights=3)  # delivered
    live.inbound()
    live.reconcile()  # reads the same state back: nothing changes
    live.inbound()
    (reservation,) = live.reservations()
    assert (reservation.status, reservation.departure) == ("confirmed", arrival + timedelta(3))
    assert live.sold_nights() == 3

    live.faults(webhook_failure_rate=1.0)
    live.cancel(booking_id)  # lost
    live.reconcile()
    live.inbound()
    (reservation,) = live.reservations()
    assert reservation.status == "cancelled"
    assert live.sold_nights() == 0
    events = live.event_kinds()
    assert events.count(kinds.RESERVATION_CREATED) == 1
    assert events.count(kinds.RESERVATION_MODIFIED) == 1
    assert events.count(kinds.RESERVATION_CANCELLED) == 1
    fetches = [body for path, body in live.transport.bodies if path.endswith("/data/sample-pms")]
    assert [body["type"] for body in fetches] == ["reservation"] * 3

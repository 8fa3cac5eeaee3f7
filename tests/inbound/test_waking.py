"""Inbound work backed off by a channel's failures is due again as soon as the channel answers
one of the connection's calls; other waiting work keeps its backoff."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from innsync.channels.errors import ChannelUnavailableError
from innsync.channels.revision_json import revision_from_bytes
from innsync.crypto import SecretBox
from innsync.db.base import utcnow
from innsync.db.engine import transaction
from innsync.inbox.models import InboxItem
from innsync.inbox.processor import GIVE_UP_AFTER, MAX_ATTEMPTS
from innsync.inbox.timing import ACK_LEASE, LEASE
from innsync.inbox.waking import ACK_WAITS_FOR_CHANNEL, SKEW_MARGIN, wake_waiting
from tests.conftest import Db
from tests.inbound.builders import Hotel, Processing, booking, encode, make_hotel


@pytest.fixture
def hotel(db: Db, secret_box: SecretBox) -> Hotel:
    with db.sessions() as session:
        made = make_hotel(session, secret_box, connections=2)
        session.commit()
    return made


class Down:
    """A channel that answers nothing, asking for two minutes."""

    name = "fake"

    def verify_webhook(self, headers: object, body: bytes) -> None:
        return None

    async def parse_webhook(self, headers: object, body: bytes) -> Sequence[object]:
        raise ChannelUnavailableError("503 from the channel", retry_after=120)


def items_by_booking(db: Db) -> dict[str, InboxItem]:
    with db.sessions() as session:
        items = session.scalars(select(InboxItem).order_by(InboxItem.id)).all()
        return {f"B{number}": item for number, item in enumerate(items, start=1)}


def set_item(db: Db, item_id: int, **values: object) -> None:
    with transaction(db.sessions) as session:
        session.execute(update(InboxItem).where(InboxItem.id == item_id).values(**values))


def test_an_answer_on_the_connection_wakes_its_items_waiting_for_the_channel(
    db: Db, secret_box: SecretBox, hotel: Hotel
) -> None:
    processing = Processing(db.sessions, secret_box)
    for number, token in ((1, 0), (2, 0), (3, 1), (4, 0)):
        processing.deliver(hotel.tokens[token], encode(booking(f"B{number}")))
    assert Processing(db.sessions, secret_box, adapter=Down()).run() == 4
    items = items_by_booking(db)
    assert {item.status for item in items.values()} == {"pending"}
    assert all(
        item.reason == "channel unavailable: 503 from the channel" for item in items.values()
    )
    # B4 failed on a bug since, not on the channel: an answer says nothing about it.
    set_item(db, items["B4"].id, reason="processing failed: KeyError: 'x'")

    set_item(db, items["B1"].id, not_before=None)  # its backoff is over; the others' is not
    assert processing.run() == 2  # B1, then B2 that B1's answer woke

    after = items_by_booking(db)
    assert (after["B1"].status, after["B2"].status) == ("applied", "applied")
    assert after["B3"].status == "pending"  # another connection: its channel has not answered
    assert after["B3"].not_before == items["B3"].not_before
    assert after["B4"].status == "pending"
    assert after["B4"].not_before == items["B4"].not_before


def pending_item(db: Db, hotel: Hotel, due: datetime | None, reason: str) -> int:
    with transaction(db.sessions) as session:
        item = InboxItem(
            connection_id=hotel.connections[0],
            tenant_id=hotel.tenant_id,
            source="webhook",
            dedupe_key=uuid.uuid4().hex,
            headers={},
            body=b"{}",
            reason=reason,
            attempts=3,
            not_before=due,
        )
        session.add(item)
        session.flush()
        return item.id


def test_an_item_held_under_a_lease_is_never_woken(db: Db, hotel: Hotel) -> None:
    now = utcnow()
    leased = pending_item(db, hotel, now + LEASE, "channel unavailable: 502")
    margin = pending_item(db, hotel, now + LEASE + SKEW_MARGIN, "channel unavailable: 502")
    backed_off = pending_item(db, hotel, now + timedelta(minutes=5), "channel unavailable: 502")
    refused = pending_item(
        db, hotel, now + timedelta(minutes=5), "channel refused the credentials: 401"
    )
    with transaction(db.sessions) as session:
        wake_waiting(session, hotel.connections[0], now)
    with db.sessions() as session:
        due = {item.id: item.not_before for item in session.scalars(select(InboxItem))}
    assert due[leased] == now + LEASE
    assert due[margin] == now + LEASE + SKEW_MARGIN
    assert due[backed_off] == now
    assert due[refused] == now


def test_only_acknowledgements_the_channel_failed_are_woken(db: Db, hotel: Hotel) -> None:
    now, later = utcnow(), utcnow() + timedelta(minutes=5)
    waiting = pending_item(db, hotel, None, "")
    bug = pending_item(db, hotel, None, "")
    sending = pending_item(db, hotel, None, "")
    channel_error = f"attempt 4: {ACK_WAITS_FOR_CHANNEL}ChannelUnavailableError: 503"
    for item_id, error, due in (
        (waiting, channel_error, later),
        (bug, "attempt 4: SecretBoxError: the key is gone", later),
        (sending, channel_error, now + ACK_LEASE),
    ):
        set_item(
            db, item_id, status="applied", ack_status="due", ack_error=error, ack_not_before=due
        )
    with transaction(db.sessions) as session:
        wake_waiting(session, hotel.connections[0], now)
    with db.sessions() as session:
        due_at = {item.id: item.ack_not_before for item in session.scalars(select(InboxItem))}
    assert due_at == {waiting: now, bug: later, sending: now + ACK_LEASE}


def test_an_item_out_of_attempts_is_parked_only_once_it_is_old_enough(
    db: Db, secret_box: SecretBox, hotel: Hotel
) -> None:
    # Answers that wake items use their attempts up faster than the backoff would: parking
    # needs the time too, so a flaky channel does not park a booking within minutes.
    processing = Processing(db.sessions, secret_box)
    processing.deliver(hotel.tokens[0], encode(booking("B1")))
    (item,) = items_by_booking(db).values()
    set_item(db, item.id, attempts=MAX_ATTEMPTS, reason="channel unavailable: 503")
    assert processing.run() == 1
    assert items_by_booking(db)["B1"].status == "applied"

    processing.deliver(hotel.tokens[0], encode(booking("B2")))
    young = items_by_booking(db)["B2"]
    set_item(
        db,
        young.id,
        attempts=MAX_ATTEMPTS,
        received_at=utcnow() - GIVE_UP_AFTER,
        reason="channel unavailable: 503",
    )
    assert processing.run() == 0
    parked = items_by_booking(db)["B2"]
    assert parked.status == "parked"
    assert parked.reason.startswith(f"gave up after {MAX_ATTEMPTS} attempts")


def test_a_slow_channel_does_not_hold_up_other_connections_items(
    db: Db, secret_box: SecretBox, hotel: Hotel
) -> None:
    # The first item's fetch answers only once the second item (another connection's) has
    # been fetched: one item at a time, the pass would wait out the first fetch's time-out.
    processing = Processing(db.sessions, secret_box)
    for number in (1, 2):
        processing.deliver(hotel.tokens[number - 1], encode(booking(f"B{number}")))

    class SlowFirst:
        name = "fake"

        def __init__(self) -> None:
            self.second_fetched: asyncio.Event | None = None
            self.fetched: list[str] = []

        def verify_webhook(self, headers: object, body: bytes) -> None:
            return None

        async def parse_webhook(self, headers: object, body: bytes) -> Sequence[object]:
            self.second_fetched = self.second_fetched or asyncio.Event()
            revision = revision_from_bytes(body)
            if revision.channel_booking_id == "B1":
                await asyncio.wait_for(self.second_fetched.wait(), timeout=5)
            else:
                self.second_fetched.set()
            self.fetched.append(revision.channel_booking_id)
            return (revision,)

    slow = SlowFirst()
    assert Processing(db.sessions, secret_box, adapter=slow).run() == 2
    assert slow.fetched == ["B2", "B1"]
    assert {item.status for item in items_by_booking(db).values()} == {"applied"}

"""Aiosell behaviours the contract checks through capabilities the adapter lacks yet.

The contract's webhook-parsing tests compare a push with the pulled revision, and its partial
rate test reads back through the adapter; the Aiosell adapter does neither yet (``KNOWN_GAPS``).
So here the reservation pushes (book, modify, cancel, §1.10, Basic auth per §1.3) are checked on
their own, and a partial rate update is checked on what the simulator holds.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from innsync.channels.types import BookingRevision, RateUpdate, RateValues
from tests.channels.contract.harnesses import AiosellHarness, HeldRate, ProducedRevision
from tests.channels.contract.test_contract import on, rates, revisions_in, span


@pytest.fixture
def aiosell() -> Iterator[AiosellHarness]:
    built = AiosellHarness()
    yield built
    built.close()


def test_book_modify_cancel_pushes_parse_to_one_booking_in_order(aiosell: AiosellHarness) -> None:
    arrival = on(aiosell, 30)

    async def parsed(produced: ProducedRevision) -> BookingRevision:
        aiosell.adapter.verify_webhook(produced.webhook_headers, produced.webhook_body)
        (revision,) = revisions_in(
            await aiosell.adapter.parse_webhook(produced.webhook_headers, produced.webhook_body)
        )
        return revision

    async def scenario() -> list[BookingRevision]:
        booked = await aiosell.book(0, arrival, arrival + timedelta(days=2))
        made = [await parsed(booked)]
        aiosell.advance(5)
        made.append(await parsed(await aiosell.modify(booked.booking_id, on(aiosell, 33))))
        aiosell.advance(5)
        made.append(await parsed(await aiosell.cancel(booked.booking_id)))
        return made

    new, modified, cancelled = aiosell.run(scenario)
    assert [r.status for r in (new, modified, cancelled)] == ["new", "modified", "cancelled"]
    assert {r.channel_booking_id for r in (new, modified, cancelled)} == {new.channel_booking_id}
    assert len({r.revision_id for r in (new, modified, cancelled)}) == 3
    assert [r.received_at for r in (new, modified, cancelled)] == [
        datetime(2030, 1, 7, 9, 0, tzinfo=UTC) + timedelta(seconds=s) for s in (0, 5, 10)
    ]
    assert (new.arrival, new.departure) == (arrival, arrival + timedelta(days=2))
    assert modified.departure == arrival + timedelta(days=3)
    (room,) = modified.rooms
    assert (room.room_type_code, room.rate_plan_code) == aiosell.rate_plans[0]
    assert [night for night, _ in room.nightly_prices] == [
        arrival + timedelta(days=n) for n in range(3)
    ]
    assert new.currency == "INR"
    assert new.total_amount is not None
    assert new.total_amount > Decimal(0)
    # bookedOn is read in the connection's zone (UTC here, as the simulator writes it).
    assert new.booked_at == datetime(2030, 1, 7, 9, 0, tzinfo=UTC)


def test_a_redelivered_push_is_the_same_revision(aiosell: AiosellHarness) -> None:
    async def scenario() -> tuple[BookingRevision, BookingRevision]:
        booked = await aiosell.book(1, on(aiosell, 4), on(aiosell, 6))
        resent = await aiosell._sim("POST", f"/reservations/{booked.booking_id}/resend", {})
        again = aiosell.deliveries.received[-1]
        assert str(resent["data"][0]["bookingId"]) == booked.booking_id
        first = await aiosell.adapter.parse_webhook(booked.webhook_headers, booked.webhook_body)
        second = await aiosell.adapter.parse_webhook(dict(again.headers), again.content)
        (one,) = revisions_in(first)
        (two,) = revisions_in(second)
        return one, two

    one, two = aiosell.run(scenario)
    assert one.revision_id == two.revision_id


def test_a_partial_rate_update_leaves_the_held_price_untouched(aiosell: AiosellHarness) -> None:
    plan = aiosell.rate_plans[0]
    dates = span(aiosell, 1, 3)

    async def scenario() -> list[HeldRate | None]:
        priced = RateUpdate(*plan, dates, RateValues(price=Decimal("120.00"), min_stay_arrival=1))
        restricted = RateUpdate(*plan, dates, RateValues(min_stay_arrival=3))
        assert (await aiosell.adapter.push_rates(rates(priced))).is_fully_accepted
        assert (await aiosell.adapter.push_rates(rates(restricted))).is_fully_accepted
        return [await aiosell.held_rate(plan, day) for day in dates]

    assert aiosell.run(scenario) == [HeldRate(Decimal("120.00"), 3)] * dates.nights

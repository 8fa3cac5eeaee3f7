"""The iCal harness's share of the contract: what it can do, it does like every channel.

The shared suite's pull tests need acknowledgements or webhooks, which iCal has not
(``KNOWN_GAPS``). Here the same behaviours are checked on the feed alone: a booking, its change
and its disappearance come out as new, modified and cancelled for one booking id, in order;
"Not available" blocks are never bookings; an unavailable feed raises and changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from innsync.channels.errors import ChannelRejectedError, ChannelUnavailableError
from innsync.channels.types import BookingRevision, ClosedDates
from tests.channels.contract.harnesses import IcalHarness
from tests.channels.contract.test_contract import on


@pytest.fixture
def ical() -> Iterator[IcalHarness]:
    built = IcalHarness()
    yield built
    built.close()


def test_new_modified_cancelled_share_the_booking_id_in_order(ical: IcalHarness) -> None:
    arrival = on(ical, 10)

    async def scenario() -> list[BookingRevision]:
        seen: list[BookingRevision] = []
        booked = await ical.book(0, arrival, arrival + timedelta(days=2))
        await ical.block(on(ical, 20), on(ical, 25))
        page = await ical.adapter.pull_revisions(None)
        seen += page.revisions
        # The block is no booking: it comes with every page as closed dates, for innsync's blocks.
        assert page.closed == (ClosedDates("listing", on(ical, 20), on(ical, 25)),)
        await ical.modify(booked.booking_id, arrival + timedelta(days=3))
        page = await ical.adapter.pull_revisions(page.next_cursor)
        seen += page.revisions
        await ical.cancel(booked.booking_id)
        page = await ical.adapter.pull_revisions(page.next_cursor)
        seen += page.revisions
        unchanged = await ical.adapter.pull_revisions(page.next_cursor)
        assert unchanged.revisions == ()
        assert unchanged.closed == (ClosedDates("listing", on(ical, 20), on(ical, 25)),)
        return seen

    revisions = ical.run(scenario)
    assert [(r.status, r.departure) for r in revisions] == [
        ("new", arrival + timedelta(days=2)),
        ("modified", arrival + timedelta(days=3)),
        ("cancelled", arrival + timedelta(days=3)),
    ]
    assert len({r.channel_booking_id for r in revisions}) == 1
    assert len({r.revision_id for r in revisions}) == 3
    new = revisions[0]
    assert new.rooms[0].room_type_code == "listing"
    assert new.guest.name is None  # iCal carries no guest data; none is invented


def test_an_unavailable_feed_raises_and_a_wrong_secret_is_refused(ical: IcalHarness) -> None:
    async def scenario() -> None:
        await ical.book(0, on(ical, 3), on(ical, 5))
        first = await ical.adapter.pull_revisions(None)
        await ical.make_unavailable()
        with pytest.raises(ChannelUnavailableError):
            await ical.adapter.pull_revisions(first.next_cursor)
        await ical.make_available()
        assert (await ical.adapter.pull_revisions(first.next_cursor)).revisions == ()
        with pytest.raises(ChannelRejectedError, match="404"):
            await (await ical.adapter_with_bad_credentials()).test_connection()

    ical.run(scenario)


@pytest.mark.parametrize("fault", ["404", "html", "empty", "malformed", "huge"])
def test_simulated_feed_faults_are_clear_errors_never_zero_events(
    ical: IcalHarness, fault: str
) -> None:
    async def scenario() -> None:
        ical.adapter.config = ical.adapter.config.model_copy(update={"max_feed_bytes": 100_000})
        await ical.book(0, on(ical, 3), on(ical, 5))
        first = await ical.adapter.pull_revisions(None)
        listing = ical.listing["listing_id"]
        await ical._sim("POST", f"/listings/{listing}/feed-fault", {"kind": fault})
        with pytest.raises(ChannelRejectedError) as caught:
            await ical.adapter.pull_revisions(first.next_cursor)
        assert getattr(caught.value, "needs_attention_now", False) is True

    ical.run(scenario)

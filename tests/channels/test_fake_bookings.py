"""The fake channel's bookings as it holds them now: read one, list by arrival (issue #20)."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest

from innsync.channels.contract import ListsBookings, ReadsBooking, capabilities_of
from innsync.channels.errors import ChannelRejectedError
from innsync.channels.fake import FakeChannel
from innsync.channels.revision_json import revision_from_json
from innsync.stay_dates import DateRange
from tests.inbound.builders import booking


def test_the_latest_revision_is_the_booking_and_a_hold_bypasses_the_feed() -> None:
    channel = FakeChannel()
    assert {"reads_booking", "lists_bookings"} <= capabilities_of(channel)
    assert isinstance(channel, ReadsBooking)
    assert isinstance(channel, ListsBookings)
    channel.publish(revision_from_json(booking("B1", arrival=date(2030, 6, 1))))
    channel.publish(revision_from_json(booking("B2", arrival=date(2030, 6, 20))))
    channel.hold(revision_from_json(booking("B1", revision=2, status="cancelled")))
    channel.hold(revision_from_json(booking("B2", revision=0, status="cancelled")))  # older

    one = asyncio.run(channel.read_booking("B1"))
    assert (one.revision_id, one.status) == ("B1-2", "cancelled")
    window = DateRange(date(2030, 6, 1), date(2030, 6, 20))  # half-open: B2 is outside
    listed = asyncio.run(channel.list_bookings(window))
    assert [(r.channel_booking_id, r.status) for r in listed] == [("B1", "cancelled")]
    wider = asyncio.run(channel.list_bookings(DateRange(date(2030, 6, 1), date(2030, 6, 21))))
    assert [(r.channel_booking_id, r.status) for r in wider] == [
        ("B1", "cancelled"),
        ("B2", "new"),
    ]
    # A hold never reaches the feed: only the two published revisions are pulled.
    page = asyncio.run(channel.pull_revisions(None))
    assert sorted(r.revision_id for r in page.revisions) == ["B1-1", "B2-1"]
    with pytest.raises(ChannelRejectedError, match="no booking 'B3'"):
        asyncio.run(channel.read_booking("B3"))

"""The iCal adapter's reading side: RFC 5545 parsing and rendering, UID diffing, faults."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from innsync.channels.contract import PullsReservations, capabilities_of
from innsync.channels.errors import ChannelUnavailableError, MappingMissingError
from innsync.channels.ical import IcalChannel, IcalConfig
from innsync.channels.ical.client import FeedBrokenError
from innsync.channels.ical.ics import (
    ExportEvent,
    IcsError,
    fold,
    parse_calendar,
    render_calendar,
)
from innsync.channels.types import ClosedDates
from innsync.outbound import OutboundPolicy, async_client

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
URL = "https://www.airbnb.test/calendar/ical/123.ics?s=secret"


def synchronous(test: Callable[..., Coroutine[Any, Any, None]]) -> Callable[..., None]:
    """Run an async test on its own event loop (the suite has no async plugin)."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return run


def feed(*events: tuple[str, str, str, str]) -> bytes:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Airbnb Inc//Hosting Calendar//EN"]
    for uid, start, end, summary in events:
        lines += [
            "BEGIN:VEVENT",
            f"DTSTART;VALUE=DATE:{start}",
            f"DTEND;VALUE=DATE:{end}",
            f"UID:{uid}",
            f"SUMMARY:{summary}",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return ("\r\n".join(lines) + "\r\n").encode()


class Platform:
    """A feed behind httpx.MockTransport with ETag answers; the body is changed by the test."""

    def __init__(self, body: bytes, status: int = 200) -> None:
        self.body, self.status, self.calls, self.not_modified = body, status, 0, 0

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        etag = f'"{hash(self.body) & 0xFFFFFF:x}"'
        if request.headers.get("if-none-match") == etag and self.status == 200:
            self.not_modified += 1
            return httpx.Response(304)
        return httpx.Response(
            self.status, content=self.body, headers={"etag": etag, "content-type": "text/calendar"}
        )


def channel(platform: Platform, **config: object) -> IcalChannel:
    http = httpx.AsyncClient(transport=httpx.MockTransport(platform.handler))
    settings = {"feed_url": SecretStr(URL), "platform": "Airbnb"} | config
    return IcalChannel(IcalConfig.model_validate(settings), http, now=lambda: NOW)


def test_parse_reads_dates_exclusive_end_and_skips_cancelled() -> None:
    body = feed(("a@airbnb.com", "20261201", "20261203", "Reserved"))
    body = body.replace(
        b"END:VCALENDAR",
        b"BEGIN:VEVENT\r\nUID:c\r\nDTSTART;VALUE=DATE:20261205"
        b"\r\nSTATUS:CANCELLED\r\nEND:VEVENT\r\nEND:VCALENDAR",
    )
    events = parse_calendar(body, max_events=10)
    assert [(e.uid, e.start, e.end) for e in events] == [
        ("a@airbnb.com", date(2026, 12, 1), date(2026, 12, 3))
    ]


def event_feed(*lines: str) -> bytes:
    body = ["BEGIN:VCALENDAR", "VERSION:2.0", "BEGIN:VEVENT", "UID:u", *lines, "END:VEVENT"]
    return ("\r\n".join([*body, "END:VCALENDAR"]) + "\r\n").encode()


@pytest.mark.parametrize(
    ("lines", "start", "end"),
    [
        # DATE-TIME values are read by their date where they were written (TZID, Z, floating).
        (
            ("DTSTART;TZID=Europe/Rome:20261201T230000", "DTEND;TZID=Europe/Rome:20261203T100000"),
            date(2026, 12, 1),
            date(2026, 12, 3),
        ),
        (
            ("DTSTART:20261201T150000Z", "DTEND:20261204T110000Z"),
            date(2026, 12, 1),
            date(2026, 12, 4),
        ),
        (("DTSTART;TZID=Mars/Base:20261201T150000",), date(2026, 12, 1), date(2026, 12, 2)),
        # Mixed DATE and DATE-TIME, a DURATION instead of DTEND, an end before the start.
        (
            ("DTSTART;VALUE=DATE:20261201", "DTEND:20261203T100000"),
            date(2026, 12, 1),
            date(2026, 12, 3),
        ),
        (("DTSTART;VALUE=DATE:20261201", "DURATION:P3D"), date(2026, 12, 1), date(2026, 12, 4)),
        (
            ("DTSTART;VALUE=DATE:20261205", "DTEND;VALUE=DATE:20261201"),
            date(2026, 12, 5),
            date(2026, 12, 6),
        ),
    ],
)
def test_date_times_zones_and_durations_become_stay_dates(
    lines: tuple[str, ...], start: date, end: date
) -> None:
    [event] = parse_calendar(event_feed(*lines), max_events=1)
    assert (event.start, event.end) == (start, end)


def test_a_folded_event_line_is_still_counted() -> None:
    body = feed(*((f"u{i}", "20261201", "20261202", "Reserved") for i in range(3)))
    with pytest.raises(IcsError, match="more than 2 events"):
        parse_calendar(body.replace(b"BEGIN:VEVENT", b"BEGIN:VEV\r\n ENT"), max_events=2)


def test_library_errors_become_clear_errors() -> None:
    with pytest.raises(IcsError, match="not a valid iCalendar"):
        parse_calendar(b"BEGIN:VCALENDAR\r\nno colon here\r\nEND:VCALENDAR\r\n", max_events=1)
    with pytest.raises(IcsError, match="DURATION"):
        parse_calendar(event_feed("DTSTART:20261201", "DURATION:P20000D"), max_events=1)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "empty"),
        (b"<!DOCTYPE html><html><body>Log in</body></html>", "HTML"),
        (b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:a\r\n", "truncated"),
        (b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:a\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n", "DTSTART"),
        (
            b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:2026XX01\r\nEND:VEVENT\r\nEND:VCALENDAR",
            "not a date",
        ),
        (
            b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:99991231\r\nEND:VEVENT\r\nEND:VCALENDAR",
            "out of range",
        ),
    ],
)
def test_bad_feeds_are_clear_errors(body: bytes, reason: str) -> None:
    with pytest.raises(IcsError, match=reason):
        parse_calendar(body, max_events=10)


def test_event_count_is_bounded() -> None:
    body = feed(*((f"u{i}", "20261201", "20261202", "Reserved") for i in range(11)))
    with pytest.raises(IcsError, match="more than 10 events"):
        parse_calendar(body, max_events=10)


def test_render_is_crlf_folded_and_round_trips() -> None:
    long_name = "Sea view " * 20
    body = render_calendar(
        [ExportEvent("x@innsync", date(2026, 12, 1), date(2026, 12, 4), "Not available")],
        name=long_name,
        stamp=NOW,
    )
    assert b"\n" not in body.replace(b"\r\n", b"")
    assert all(len(line) <= 75 for line in body.split(b"\r\n"))
    assert b"DTEND;VALUE=DATE:20261204\r\n" in body
    events = parse_calendar(body, max_events=5)
    assert [(e.uid, e.start, e.end) for e in events] == [
        ("x@innsync", date(2026, 12, 1), date(2026, 12, 4))
    ]


def test_fold_never_splits_a_utf8_character() -> None:
    folded = fold("SUMMARY:" + "é" * 80)
    for part in folded.split("\r\n"):
        assert len(part.encode()) <= 75
    assert folded.replace("\r\n ", "") == "SUMMARY:" + "é" * 80


@synchronous
async def test_new_change_and_removal_become_new_modified_cancelled_once() -> None:
    platform = Platform(
        feed(
            ("a@airbnb.com", "20261201", "20261204", "Reserved"),
            ("b@airbnb.com", "20261210", "20261212", "Reserved"),
            ("c@airbnb.com", "20261215", "20261217", "Reserved"),
            ("blk", "20261220", "20261231", "Airbnb (Not available)"),
        )
    )
    adapter = channel(platform)
    assert isinstance(adapter, PullsReservations)
    assert "pulls_reservations" in capabilities_of(adapter)
    first = await adapter.pull_revisions(None)
    assert sorted((r.channel_booking_id, r.status) for r in first.revisions) == [
        ("a@airbnb.com", "new"),
        ("b@airbnb.com", "new"),
        ("c@airbnb.com", "new"),
    ]
    assert all(r.ota_name == "Airbnb" and r.guest.name is None for r in first.revisions)
    # Unchanged: a 304, nothing new.
    again = await adapter.pull_revisions(first.next_cursor)
    assert again.revisions == ()
    assert platform.not_modified == 1
    platform.body = feed(
        ("a@airbnb.com", "20261201", "20261205", "Reserved"),
        ("b@airbnb.com", "20261210", "20261212", "Reserved"),
        ("c@airbnb.com", "20261215", "20261217", "Reserved"),
    ).replace(b"c@airbnb.com", b"d@airbnb.com")
    second = await adapter.pull_revisions(again.next_cursor)
    assert sorted((r.channel_booking_id, r.status) for r in second.revisions) == [
        ("a@airbnb.com", "modified"),
        ("c@airbnb.com", "cancelled"),
        ("d@airbnb.com", "new"),
    ]
    # The page was not committed (a crash): the old cursor diffs from the same baseline and
    # yields the same revision ids, which the inbox keeps once.
    replay = await adapter.pull_revisions(again.next_cursor)
    assert {r.revision_id for r in replay.revisions} == {r.revision_id for r in second.revisions}
    assert (await adapter.pull_revisions(second.next_cursor)).revisions == ()


@synchronous
async def test_closed_dates_come_with_every_page_unless_turned_off() -> None:
    platform = Platform(
        feed(
            ("a", "20261201", "20261203", "Reserved"),
            ("n1", "20261210", "20261215", "Airbnb (Not available)"),
            ("n2", "20261205", "20261206", "Blocked"),
        )
    )
    adapter = channel(platform)
    first = await adapter.pull_revisions(None)
    expected = (
        ClosedDates("listing", date(2026, 12, 5), date(2026, 12, 6)),
        ClosedDates("listing", date(2026, 12, 10), date(2026, 12, 15)),
    )
    assert first.closed == expected
    again = await adapter.pull_revisions(first.next_cursor)  # a 304: the same set again
    assert (platform.not_modified, again.closed) == (1, expected)
    off = channel(platform, close_blocked_dates=False)
    off._store = adapter._store
    assert (await off.pull_revisions(again.next_cursor)).closed == ()


@synchronous
async def test_a_uid_back_after_a_cancellation_is_a_new_booking_again() -> None:
    platform = Platform(
        feed(("a", "20261201", "20261203", "Reserved"), ("b", "20261205", "20261206", "Reserved"))
    )
    adapter = channel(platform)
    first = await adapter.pull_revisions(None)
    platform.body = feed(("b", "20261205", "20261206", "Reserved"))
    gone = await adapter.pull_revisions(first.next_cursor)
    platform.body = feed(
        ("a", "20261201", "20261203", "Reserved"), ("b", "20261205", "20261206", "Reserved")
    )
    back = await adapter.pull_revisions(gone.next_cursor)
    [created] = [r for r in first.revisions if r.channel_booking_id == "a"]
    [again] = back.revisions
    assert again.status == "new"
    assert again.revision_id != created.revision_id


@synchronous
async def test_past_stays_that_age_out_are_not_cancellations() -> None:
    platform = Platform(
        feed(
            ("old", "20261110", "20261112", "Reserved"), ("new", "20261201", "20261203", "Reserved")
        )
    )
    adapter = channel(platform)
    first = await adapter.pull_revisions(None)
    platform.body = feed(("new", "20261201", "20261203", "Reserved"))
    assert (await adapter.pull_revisions(first.next_cursor)).revisions == ()


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (404, b"Not found", "answered 404"),
        (200, b"<html><body>Please log in</body></html>", "HTML page"),
        (200, b"", "empty"),
    ],
)
@synchronous
async def test_broken_feeds_cancel_nothing_and_ask_for_attention(
    status: int, body: bytes, message: str
) -> None:
    platform = Platform(feed(("a", "20261201", "20261203", "Reserved")))
    adapter = channel(platform)
    first = await adapter.pull_revisions(None)
    platform.body, platform.status = body, status
    with pytest.raises(FeedBrokenError, match=message) as caught:
        await adapter.pull_revisions(first.next_cursor)
    assert caught.value.needs_attention_now is True


@synchronous
async def test_a_feed_that_suddenly_empties_is_held_not_cancelled() -> None:
    platform = Platform(
        feed(
            ("a", "20261201", "20261203", "Reserved"),
            ("b", "20261205", "20261207", "Reserved"),
            ("c", "20261209", "20261211", "Reserved"),
        )
    )
    adapter = channel(platform)
    first = await adapter.pull_revisions(None)
    platform.body = feed()
    with pytest.raises(FeedBrokenError, match="held for review"):
        await adapter.pull_revisions(first.next_cursor)
    platform.body = feed(("a", "20261201", "20261203", "Reserved"))
    with pytest.raises(FeedBrokenError, match="lost 2 of 3"):
        await adapter.pull_revisions(first.next_cursor)
    accepting = channel(platform, allow_mass_cancellation=True)
    accepting._store = adapter._store
    page = await accepting.pull_revisions(first.next_cursor)
    assert sorted(r.status for r in page.revisions) == ["cancelled", "cancelled"]


@synchronous
async def test_server_errors_are_unavailable_and_export_only_pulls_nothing() -> None:
    platform = Platform(feed(), status=503)
    with pytest.raises(ChannelUnavailableError):
        await channel(platform).pull_revisions(None)
    export_only = IcalChannel(IcalConfig(), httpx.AsyncClient(), now=lambda: NOW)
    with pytest.raises(MappingMissingError):
        await export_only.pull_revisions(None)
    await export_only.test_connection()


@synchronous
async def test_huge_feed_is_refused_while_reading() -> None:
    platform = Platform(feed(*((f"u{i}", "20261201", "20261202", "Reserved") for i in range(200))))
    with pytest.raises(FeedBrokenError, match="larger than 1000 bytes"):
        await channel(platform, max_feed_bytes=1000).pull_revisions(None)


@synchronous
async def test_a_feed_whose_host_resolves_to_a_private_address_is_a_broken_feed() -> None:
    # The worker's client is held to the outbound policy; the feed's name resolves (by the
    # injected resolver) to a private address, so nothing is sent and a person must look.
    policy = OutboundPolicy(resolver=lambda host, port: ["10.1.2.3"])
    channel = IcalChannel(
        IcalConfig(feed_url=SecretStr("https://calendar.example/feed.ics")),
        async_client(policy, timeout=5),
        now=lambda: NOW,
    )
    with pytest.raises(FeedBrokenError, match="a private address, which innsync's outbound"):
        await channel.pull_revisions(None)


def test_config_refuses_non_http_urls() -> None:
    with pytest.raises(ValueError, match="http"):
        IcalConfig.model_validate({"feed_url": "file:///etc/passwd"})


stay_starts = st.dates(min_value=date(2026, 1, 1), max_value=date(2030, 12, 31))


@given(
    st.lists(
        st.tuples(
            st.text(
                alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=90
            ),
            stay_starts,
            st.integers(min_value=1, max_value=30),
            st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=120),
        ),
        max_size=20,
        unique_by=lambda event: event[0].strip(),
    )
)
def test_rendered_calendars_read_back_exactly(
    events: list[tuple[str, date, int, str]],
) -> None:
    written = [
        ExportEvent(uid.strip() or "u", start, start + timedelta(days=nights), summary)
        for uid, start, nights, summary in events
        if uid.strip() and ":" not in uid and ";" not in uid
    ]
    body = render_calendar(written, name="Prop, \\ name; x", stamp=NOW)
    assert all(len(line) <= 75 for line in body.split(b"\r\n"))
    read = parse_calendar(body, max_events=50)
    assert [(e.uid, e.start, e.end) for e in read] == [(w.uid, w.start, w.end) for w in written]
    newlines = [w.summary.replace("\r\n", "\n").replace("\r", "\n") for w in written]
    assert [e.summary for e in read] == [text.strip()[:200] for text in newlines]


VALID = (
    b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:a\r\nDTSTART;VALUE=DATE:20261201\r\n"
    b"DTEND;VALUE=DATE:20261203\r\nSUMMARY:Reserved\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)


@given(
    st.binary(max_size=400) | st.sampled_from([b"99991231", b"00010101", b"20261232"]),
    st.integers(min_value=0, max_value=len(VALID)),
)
def test_any_bytes_are_events_or_a_clear_error(noise: bytes, at: int) -> None:
    for body in (noise, VALID[:at] + noise + VALID[at:]):
        try:
            events = parse_calendar(body, max_events=10)
        except IcsError:
            continue
        assert all(event.end > event.start for event in events)

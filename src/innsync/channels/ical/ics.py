"""RFC 5545 text: rendering innsync's busy nights and reading a platform's feed, both bounded.

Reading uses the maintained ``icalendar`` library, inside innsync's bounds (bytes capped by the
client, lines and events counted before the library runs, every library error turned into
:class:`IcsError`); only ``VEVENT``'s ``UID``, ``DTSTART``, ``DTEND`` / ``DURATION``,
``SUMMARY`` and ``STATUS`` are used. Writing stays a few lines of hand-written text: the export
must be byte-stable for its ETag, and every value written is a date or an escaped text.

DTEND convention (issue #15, landscape §4.4): ``DTEND;VALUE=DATE`` is **exclusive**, the
check-out day, as RFC 5545 §3.6.1 says for all-day events: an event from 2026-12-01 to
2026-12-03 blocks the nights of the 1st and the 2nd. innsync writes it so and reads it so;
a ``DTEND`` on or before ``DTSTART`` (or none, and no ``DURATION``) is read as one night.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import icalendar

CRLF = "\r\n"
# RFC 5545 §3.1: lines longer than 75 octets are folded.
FOLD_OCTETS = 75
# A stay longer than this in a DURATION is garbage (and would overflow near the year limits).
MAX_NIGHTS = 3_660
# Counted before the library parses, so a feed past max_events costs no objects.
_EVENT_START = re.compile(r"^BEGIN:VEVENT", re.IGNORECASE | re.MULTILINE)
PRODID = "-//innsync//iCal export//EN"
FIRST_YEAR, LAST_YEAR = 1970, 2999


class IcsError(ValueError):
    """The feed is not an iCalendar we can read; the message says why, for an operator."""


@dataclass(frozen=True, slots=True)
class FeedEvent:
    """One event of a platform's feed: a stay ``[start, end)`` (check-out day excluded)."""

    uid: str
    start: date
    end: date
    summary: str

    @property
    def fingerprint(self) -> str:
        """Changes when the dates change; the summary is not part of it (it holds no stay)."""
        text = f"{self.uid}|{self.start.isoformat()}|{self.end.isoformat()}"
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class ExportEvent:
    uid: str
    start: date
    end: date
    summary: str


def escape_text(value: str) -> str:
    """RFC 5545 §3.3.11 TEXT escaping."""
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\n")
        .replace("\r", "\n")  # a lone CR would end the content line
        .replace("\n", "\\n")
    )


def fold(line: str) -> str:
    """Fold a content line at 75 octets without splitting a UTF-8 sequence (§3.1)."""
    encoded = line.encode()
    if len(encoded) <= FOLD_OCTETS:
        return line
    parts: list[str] = []
    current = ""
    limit = FOLD_OCTETS
    for char in line:
        if len((current + char).encode()) > limit:
            parts.append(current)
            current = char
            limit = FOLD_OCTETS - 1  # continuation lines start with one space
        else:
            current += char
    parts.append(current)
    return (CRLF + " ").join(parts)


def render_calendar(
    events: Iterable[ExportEvent], *, name: str, stamp: datetime, prodid: str = PRODID
) -> bytes:
    """A whole ``VCALENDAR`` with CRLF line ends; ``stamp`` (UTC) is every event's DTSTAMP."""
    stamp_text = stamp.strftime("%Y%m%dT%H%M%SZ")
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{prodid}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{escape_text(name)}",
    ]
    for event in events:
        lines += [
            "BEGIN:VEVENT",
            f"UID:{escape_text(event.uid)}",
            f"DTSTAMP:{stamp_text}",
            f"DTSTART;VALUE=DATE:{event.start:%Y%m%d}",
            f"DTEND;VALUE=DATE:{event.end:%Y%m%d}",
            f"SUMMARY:{escape_text(event.summary)}",
            "TRANSP:OPAQUE",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + CRLF for line in lines).encode()


def parse_calendar(
    body: bytes, *, max_events: int, max_lines: int | None = None
) -> list[FeedEvent]:
    """The events of a feed, cancelled ones (``STATUS:CANCELLED``) left out.

    Parsed by the maintained ``icalendar`` library, inside innsync's own bounds: the body is
    already capped in bytes by the client, lines and ``BEGIN:VEVENT`` are counted before the
    library runs, and whatever the library cannot read becomes :class:`IcsError`. So anything
    that is not a calendar (an HTML login page, an empty body, a truncated file) or that passes
    the limits is a clear error, never read as "no bookings".
    """
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = body.decode("latin-1")
    stripped = text.strip()
    if not stripped:
        raise IcsError("the feed is empty (no VCALENDAR)")
    if not stripped[:15].upper().startswith("BEGIN:VCALENDAR"):
        looks_html = stripped[:1] == "<"
        raise IcsError(
            "the feed is an HTML page, not an iCalendar"
            if looks_html
            else "the feed does not start with BEGIN:VCALENDAR"
        )
    if stripped.splitlines()[-1].strip().upper() != "END:VCALENDAR":
        raise IcsError("the feed is truncated (no END:VCALENDAR)")
    # Bound the library's work before it builds anything: lines and events are counted first.
    limit = max_lines or max_events * 40 + 1000
    if text.count("\n") + 1 > limit:
        raise IcsError(f"more than {limit} lines")
    if len(_EVENT_START.findall(text)) > max_events:
        raise IcsError(f"more than {max_events} events")
    try:
        calendar = icalendar.Calendar.from_ical(text)
        events = [_event(component) for component in calendar.walk("VEVENT")]
    except IcsError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, OverflowError) as exc:
        # The library's InvalidCalendar and BrokenCalendarProperty are ValueErrors; the others
        # are what a malformed value can raise while it is read.
        raise IcsError(f"the feed is not a valid iCalendar: {str(exc)[:120]}") from None
    kept = [event for event in events if event is not None]
    if len(kept) > max_events:  # a folded BEGIN line escaped the count above
        raise IcsError(f"more than {max_events} events")
    return kept


def _day(value: object, what: str) -> date:
    """A property's date: see :func:`_as_date`."""
    try:
        moment = getattr(value, "dt", None)
    except ValueError:  # the library keeps an unreadable value and raises when it is used
        raise IcsError(f"{what} is not a date: {str(value)[:40]!r}") from None
    return _as_date(moment, what)


def _as_date(moment: object, what: str) -> date:
    """A ``DATE`` as is; a ``DATE-TIME`` by its date where it was written (its own TZID, UTC
    for ``Z``, floating as is): a check-in at 15:00 is on its day whatever the zone."""
    if isinstance(moment, datetime):
        day = moment.date()
    elif isinstance(moment, date):
        day = moment
    else:
        raise IcsError(f"{what} is not a date: {str(moment)[:40]!r}")
    # Stays are near today; far dates are garbage (and 9999-12-31 has no next day).
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise IcsError(f"{what} is out of range: {day.isoformat()}")
    return day


def _end(event: icalendar.Component, start: date) -> date:
    """The check-out day: ``DTEND`` (exclusive), else ``DTSTART`` + ``DURATION``, else one
    night; an end on or before the start is read as one night."""
    if "DTEND" in event:
        end = _day(event["DTEND"], "DTEND")
    elif "DURATION" in event:
        duration = getattr(event["DURATION"], "dt", None)
        if not isinstance(duration, timedelta) or abs(duration.days) > MAX_NIGHTS:
            raise IcsError("DURATION is not a duration of a stay")
        moment = getattr(event["DTSTART"], "dt", None)
        if not isinstance(moment, date):  # datetime is a date too
            raise IcsError("DTSTART is not a date")
        end = _as_date(moment + duration, "DTSTART + DURATION")
    else:
        end = start
    return end if end > start else start + timedelta(days=1)


def _event(event: icalendar.Component) -> FeedEvent | None:
    if str(event.get("STATUS", "")).strip().upper() == "CANCELLED":
        return None
    if "DTSTART" not in event:
        raise IcsError("an event has no DTSTART")
    start = _day(event["DTSTART"], "DTSTART")
    end = _end(event, start)
    summary = str(event.get("SUMMARY", "")).strip()
    uid = str(event.get("UID", "")).strip()
    if not uid:
        # Some feeds leave UID out; the dates are then the only identity there is.
        uid = f"no-uid-{start:%Y%m%d}-{end:%Y%m%d}"
    return FeedEvent(uid=uid[:200], start=start, end=end, summary=summary[:200])


def is_block(summary: str, patterns: Sequence[str]) -> bool:
    """Whether an event's summary marks it as closed dates rather than a guest's stay."""
    lowered = summary.casefold()
    return any(pattern.casefold() in lowered for pattern in patterns)

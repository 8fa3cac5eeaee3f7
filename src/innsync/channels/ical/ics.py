"""RFC 5545 text: rendering innsync's busy nights and reading a platform's feed, both bounded.

Only what calendar sync uses is read: ``VEVENT`` with ``UID``, ``DTSTART``, ``DTEND``,
``SUMMARY`` and ``STATUS``. A hand-written reader rather than a general library, because the
subset is small and every limit (bytes, lines, events) must hold before anything is built.

DTEND convention (issue #15, landscape §4.4): ``DTEND;VALUE=DATE`` is **exclusive**, the
check-out day, as RFC 5545 §3.6.1 says for all-day events: an event from 2026-12-01 to
2026-12-03 blocks the nights of the 1st and the 2nd. innsync writes it so and reads it so;
a ``DTEND`` on or before ``DTSTART`` is read as one night.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

CRLF = "\r\n"
# RFC 5545 §3.1: lines longer than 75 octets are folded.
FOLD_OCTETS = 75
MAX_LINE_CHARS = 10_000
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
            f"UID:{event.uid}",
            f"DTSTAMP:{stamp_text}",
            f"DTSTART;VALUE=DATE:{event.start:%Y%m%d}",
            f"DTEND;VALUE=DATE:{event.end:%Y%m%d}",
            f"SUMMARY:{escape_text(event.summary)}",
            "TRANSP:OPAQUE",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + CRLF for line in lines).encode()


def _unfold(text: str, max_lines: int) -> list[str]:
    lines: list[str] = []
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if raw[:1] in (" ", "\t") and lines:
            lines[-1] += raw[1:]
        elif raw.strip():
            lines.append(raw)
        else:
            continue
        if len(lines[-1]) > MAX_LINE_CHARS:
            raise IcsError(f"a line is longer than {MAX_LINE_CHARS} characters")
        if len(lines) > max_lines:
            raise IcsError(f"more than {max_lines} lines")
    return lines


def _split(line: str) -> tuple[str, dict[str, str], str]:
    """``NAME;PARAM=V:value`` -> (NAME, {PARAM: V}, value). Quoted params may hold ``:``."""
    in_quotes = False
    for index, char in enumerate(line):
        if char == '"':
            in_quotes = not in_quotes
        elif char == ":" and not in_quotes:
            head, value = line[:index], line[index + 1 :]
            break
    else:
        raise IcsError(f"a line has no value: {line[:60]!r}")
    name, *params = head.split(";")
    parsed = {}
    for param in params:
        key, _, val = param.partition("=")
        parsed[key.upper()] = val.strip('"')
    return name.upper(), parsed, value


def _unescape(value: str) -> str:
    out, index = [], 0
    while index < len(value):
        char = value[index]
        if char == "\\" and index + 1 < len(value):
            nxt = value[index + 1]
            out.append("\n" if nxt in "nN" else nxt)
            index += 2
        else:
            out.append(char)
            index += 1
    return "".join(out)


def _date(value: str, what: str) -> date:
    """A DATE (``20261201``) or the date part of a DATE-TIME (``20261201T150000Z``)."""
    text = value.strip()[:8]
    try:
        parsed = datetime.strptime(text, "%Y%m%d").date()  # noqa: DTZ007  (a date, no time)
    except ValueError:
        raise IcsError(f"{what} is not a date: {value[:40]!r}") from None
    # Stays are near today; far dates are garbage (and 9999-12-31 has no next day).
    if not FIRST_YEAR <= parsed.year <= LAST_YEAR:
        raise IcsError(f"{what} is out of range: {value[:40]!r}")
    return parsed


def parse_calendar(
    body: bytes, *, max_events: int, max_lines: int | None = None
) -> list[FeedEvent]:
    """The events of a feed, cancelled ones (``STATUS:CANCELLED``) left out.

    Raises :class:`IcsError` for anything that is not a calendar (an HTML login page, an empty
    body, a truncated file) or that passes the limits, so a broken feed is never read as
    "no bookings".
    """
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = body.decode("latin-1")
    stripped = text.lstrip()
    if not stripped:
        raise IcsError("the feed is empty (no VCALENDAR)")
    if not stripped[:15].upper().startswith("BEGIN:VCALENDAR"):
        looks_html = stripped[:1] == "<"
        raise IcsError(
            "the feed is an HTML page, not an iCalendar"
            if looks_html
            else "the feed does not start with BEGIN:VCALENDAR"
        )
    lines = _unfold(text, max_lines or max_events * 40 + 1000)
    if lines[-1].strip().upper() != "END:VCALENDAR":
        raise IcsError("the feed is truncated (no END:VCALENDAR)")
    events: list[FeedEvent] = []
    current: dict[str, tuple[dict[str, str], str]] | None = None
    for line in lines:
        name, params, value = _split(line)
        if name == "BEGIN" and value.upper() == "VEVENT":
            current = {}
        elif name == "END" and value.upper() == "VEVENT":
            if current is None:
                raise IcsError("END:VEVENT without BEGIN:VEVENT")
            event = _event(current)
            if event is not None:
                events.append(event)
                if len(events) > max_events:
                    raise IcsError(f"more than {max_events} events")
            current = None
        elif current is not None and name not in current:
            current[name] = (params, value)
    return events


def _event(props: dict[str, tuple[dict[str, str], str]]) -> FeedEvent | None:
    if props.get("STATUS", ({}, ""))[1].strip().upper() == "CANCELLED":
        return None
    if "DTSTART" not in props:
        raise IcsError("an event has no DTSTART")
    start = _date(props["DTSTART"][1], "DTSTART")
    end = _date(props["DTEND"][1], "DTEND") if "DTEND" in props else start + timedelta(days=1)
    if end <= start:
        end = start + timedelta(days=1)
    summary = _unescape(props.get("SUMMARY", ({}, ""))[1]).strip()
    uid = props.get("UID", ({}, ""))[1].strip()
    if not uid:
        # Some feeds leave UID out; the dates are then the only identity there is.
        uid = f"no-uid-{start:%Y%m%d}-{end:%Y%m%d}"
    return FeedEvent(uid=uid[:200], start=start, end=end, summary=summary[:200])


def is_block(summary: str, patterns: Sequence[str]) -> bool:
    """Whether an event's summary marks it as closed dates rather than a guest's stay."""
    lowered = summary.casefold()
    return any(pattern.casefold() in lowered for pattern in patterns)

"""The simulator's own iCalendar text: what Airbnb and Vrbo publish, and a minimal reader of
the exports it polls. Written from the platforms' published feeds (landscape §4), not from
innsync's adapter."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date, datetime

FLAVOURS = ("airbnb", "vrbo")
PRODIDS = {
    "airbnb": "-//Airbnb Inc//Hosting Calendar 0.8.8//EN",
    "vrbo": "-//HomeAway.com, Inc.//EN",
}
BLOCK_SUMMARIES = {"airbnb": "Airbnb (Not available)", "vrbo": "Blocked"}


@dataclass(frozen=True, slots=True)
class SimEvent:
    uid: str
    start: date
    end: date
    """Exclusive: the check-out day (RFC 5545 all-day events)."""
    summary: str
    is_block: bool = False


def booking_summary(flavour: str, guest: str) -> str:
    # Airbnb shows "Reserved"; Vrbo "Reserved - <first name>" (third-party guides, §4.2).
    return "Reserved" if flavour == "airbnb" else f"Reserved - {guest}"


def render(flavour: str, events: list[SimEvent], stamp: datetime) -> bytes:
    lines = [
        "BEGIN:VCALENDAR",
        f"PRODID:{PRODIDS[flavour]}",
        "CALSCALE:GREGORIAN",
        "VERSION:2.0",
    ]
    for event in sorted(events, key=lambda e: (e.start, e.uid)):
        lines += [
            "BEGIN:VEVENT",
            f"DTSTAMP:{stamp:%Y%m%dT%H%M%SZ}",
            f"DTEND;VALUE=DATE:{event.end:%Y%m%d}",
            f"DTSTART;VALUE=DATE:{event.start:%Y%m%d}",
            f"UID:{event.uid}",
            f"SUMMARY:{event.summary}",
        ]
        if flavour == "airbnb" and not event.is_block:
            code = int(hashlib.sha256(event.uid.encode()).hexdigest()[:7], 16)
            lines.append(
                "DESCRIPTION:Reservation URL: https://www.airbnb.com/hosting/reservations/"
                f"details/HM{code:08d}\\nPhone Number (Last 4 Digits): 0000"
            )
        lines.append("END:VEVENT")
    lines.append("END:VCALENDAR")
    return ("\r\n".join(_fold(line) for line in lines) + "\r\n").encode()


def _fold(line: str) -> str:
    """Long lines are folded at 75 characters, as Airbnb's feeds do (ASCII here)."""
    parts = [line[:75]] + [line[i : i + 74] for i in range(75, len(line), 74)]
    return "\r\n ".join(parts)


_PROPERTY = re.compile(r"^(DTSTART|DTEND|UID|SUMMARY)[^:]*:(.*)$")


def read(body: bytes) -> list[tuple[str, date, date, str]]:
    """(uid, start, end, summary) of every VEVENT of an export; raises ValueError if none of it
    looks like a calendar."""
    text = body.decode("utf-8", errors="replace").replace("\r\n ", "").replace("\r\n\t", "")
    if "BEGIN:VCALENDAR" not in text:
        raise ValueError("not an iCalendar")
    found = []
    current: dict[str, str] | None = None
    for line in text.splitlines():
        if line == "BEGIN:VEVENT":
            current = {}
        elif line == "END:VEVENT" and current is not None:
            start = datetime.strptime(current["DTSTART"][:8], "%Y%m%d").date()  # noqa: DTZ007
            end = datetime.strptime(current["DTEND"][:8], "%Y%m%d").date()  # noqa: DTZ007
            found.append((current.get("UID", ""), start, end, current.get("SUMMARY", "")))
            current = None
        elif current is not None and (match := _PROPERTY.match(line)):
            current.setdefault(match.group(1), match.group(2))
    return found

"""The demo's final check: Channex shows innsync's desired ARI, and every OTA booking is in
innsync exactly once, as its latest revision, and acknowledged.

Desired state is computed by the sync engine's own readers (``sync.desired``) over the dates
the first full sync covered, from today on (Channex takes no past dates); Channex's side is the
simulator's ``/_sim/ari``, which shows the effective value of every pushed date. Nothing is
compared through the adapter, so a misreading in it cannot hide in both sides.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from innsync.channels.types import RateValues
from innsync.connections.models import Connection
from innsync.demo.hotel import DemoHotel
from innsync.demo.summary import InnsyncView
from innsync.reservations.models import Reservation
from innsync.stay_dates import DateRange
from innsync.sync.desired import desired_availability, desired_rates, load_mappings

# The restriction fields Channex holds under innsync's own names (channex.md §1.5).
CHANNEX_RESTRICTIONS = (
    "min_stay_arrival",
    "min_stay_through",
    "max_stay",
    "closed_to_arrival",
    "closed_to_departure",
    "stop_sell",
)
# Mismatches and errors listed in the report; the counts are always complete.
SHOWN = 10


@dataclass(frozen=True, slots=True)
class Mismatch:
    subject: str
    stay_date: date
    field: str
    innsync: object
    channex: object

    def __str__(self) -> str:
        return (
            f"{self.subject} {self.stay_date} {self.field}: innsync {self.innsync!r}, "
            f"Channex {self.channex!r}"
        )


@dataclass
class AriCheck:
    first: date
    last: date
    values_compared: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)


@dataclass
class BookingCheck:
    generated: int = 0  # bookings on Channex
    revisions: int = 0
    stored_once: int = 0  # in innsync exactly once, at the latest revision, same status
    missing: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    behind: list[str] = field(default_factory=list)  # an older revision, or another status
    unknown: list[str] = field(default_factory=list)  # in innsync, not on Channex
    unacked: list[str] = field(default_factory=list)  # revision ids
    overbookings_expected: int = 0
    overbookings_not_flagged: list[str] = field(default_factory=list)
    overbooked_total: int = 0


@dataclass
class LogCheck:
    error_lines: int = 0
    examples: list[str] = field(default_factory=list)


@dataclass
class Report:
    ari: AriCheck
    bookings: BookingCheck
    logs: LogCheck
    rate_limited: int
    ari_calls: int
    settled: bool
    refused_traffic: list[str]

    @property
    def passed(self) -> bool:
        b = self.bookings
        return (
            self.settled
            and not self.ari.mismatches
            and self.ari.values_compared > 0
            and b.stored_once == b.generated
            and not (b.missing or b.duplicated or b.behind or b.unknown or b.unacked)
            and not b.overbookings_not_flagged
            and self.logs.error_lines == 0
            and self.rate_limited == 0
            and not self.refused_traffic
        )

    def lines(self) -> list[str]:
        b = self.bookings
        out = [
            f"ARI: {self.ari.values_compared} values compared on {self.ari.first} .. "
            f"{self.ari.last}; {len(self.ari.mismatches)} differ"
            + (" -- Channex shows innsync's desired state" if not self.ari.mismatches else ""),
            *(f"  {m}" for m in self.ari.mismatches[:SHOWN]),
            f"bookings: {b.generated} generated on Channex ({b.revisions} revisions), "
            f"{b.stored_once} in innsync exactly once at their latest revision; "
            f"missing {len(b.missing)}, duplicated {len(b.duplicated)}, behind {len(b.behind)}, "
            f"unknown {len(b.unknown)}; unacknowledged revisions {len(b.unacked)}",
            *(
                f"  {label}: {', '.join(ids[:SHOWN])}"
                for label, ids in (
                    ("missing", b.missing),
                    ("duplicated", b.duplicated),
                    ("behind", b.behind),
                    ("unknown", b.unknown),
                    ("unacknowledged", b.unacked),
                )
                if ids
            ),
            f"overbookings: {b.overbookings_expected} caused on purpose, "
            f"{b.overbookings_expected - len(b.overbookings_not_flagged)} of them flagged; "
            f"{b.overbooked_total} reservations flagged in all",
            f"Channex: {self.ari_calls} ARI calls accepted, {self.rate_limited} answered 429",
            f"logs: {self.logs.error_lines} error lines",
            *(f"  {line}" for line in self.logs.examples),
        ]
        if not self.settled:
            out.append("innsync had not caught up when the wait ended")
        if self.refused_traffic:
            out.append(f"traffic refused unexpectedly {len(self.refused_traffic)} times:")
            out.extend(f"  {line}" for line in self.refused_traffic[:SHOWN])
        out.append("VERIFICATION PASSED" if self.passed else "VERIFICATION FAILED")
        return out


def check_ari(
    sessions: sessionmaker[Session],
    hotel: DemoHotel,
    channex_ari: Mapping[str, Any],
    first: date,
) -> AriCheck:
    """Every Channex value of the synced horizon, from ``first`` on, against innsync's wish."""
    last = hotel.synced_to
    result = AriCheck(first, last)
    if first > last:
        return result
    dates = DateRange(first, last + timedelta(days=1))
    names = hotel.names()
    shown = channex_ari.get(hotel.channex_property_id, {})
    with sessions() as session:
        connection = session.get_one(Connection, hotel.connection_id)
        mappings = load_mappings(session, connection)
        availability = desired_availability(
            session, mappings, {room_type_id: [dates] for room_type_id in mappings.room_types}
        )
        rates = desired_rates(
            session, mappings, {rate_plan_id: [dates] for rate_plan_id in mappings.rate_plans}
        )
    channex_availability: Mapping[str, Mapping[str, int]] = shown.get("availability", {})
    for code, days in availability.items():
        held = channex_availability.get(code, {})
        for day, units in sorted(days.items()):
            result.values_compared += 1
            their = held.get(day.isoformat())
            if their != units:
                result.mismatches.append(
                    Mismatch(names.get(code, code), day, "availability", units, their)
                )
    channex_restrictions: Mapping[str, Mapping[str, Any]] = shown.get("restrictions", {})
    for key, plan_days in rates.items():
        held_days = channex_restrictions.get(key[1], {})
        for day, values in sorted(plan_days.items()):
            _compare_day(
                result, names.get(key[1], key[1]), day, values, held_days.get(day.isoformat())
            )
    return result


def _compare_day(
    result: AriCheck, subject: str, day: date, values: RateValues, held: Mapping[str, Any] | None
) -> None:
    if held is None:
        result.values_compared += 1
        result.mismatches.append(Mismatch(subject, day, "everything", "values", None))
        return
    wanted: list[tuple[str, object, object]] = []
    if values.price is not None:
        wanted.append(("rate", values.price, Decimal(str(held["rate"]))))
    if values.occupancy_prices is not None:
        shown = {row["occupancy"]: Decimal(str(row["rate"])) for row in held["rates"]}
        wanted.extend(
            (f"rate for {occupancy}", amount, shown.get(occupancy))
            for occupancy, amount in values.occupancy_prices
        )
    wanted.extend((name, getattr(values, name), held.get(name)) for name in CHANNEX_RESTRICTIONS)
    for name, ours, theirs in wanted:
        result.values_compared += 1
        if ours != theirs:
            result.mismatches.append(Mismatch(subject, day, name, ours, theirs))


def check_bookings(
    sessions: sessionmaker[Session],
    hotel: DemoHotel,
    revisions: Iterable[Mapping[str, Any]],
    expected_overbooked: Iterable[str],
) -> BookingCheck:
    """Channex's revisions (oldest first, as ``/_sim/bookings`` lists them) against innsync."""
    result = BookingCheck()
    latest: dict[str, Mapping[str, Any]] = {}
    for revision in revisions:
        if revision["property_id"] != hotel.channex_property_id:
            continue
        result.revisions += 1
        latest[revision["booking_id"]] = revision
        if revision["acked_at"] is None:
            result.unacked.append(str(revision["revision_id"]))
    result.generated = len(latest)
    with sessions() as session:
        stored = list(
            session.scalars(
                select(Reservation).where(
                    Reservation.property_id == hotel.property_id,
                    Reservation.source == str(hotel.connection_id),
                )
            )
        )
        result.overbooked_total = len(
            list(
                session.scalars(
                    select(Reservation.id).where(
                        Reservation.property_id == hotel.property_id,
                        Reservation.is_overbooked.is_(True),
                    )
                )
            )
        )
    copies = Counter(r.channel_booking_id for r in stored)
    by_booking = {r.channel_booking_id: r for r in stored}
    for booking_id, revision in latest.items():
        if copies[booking_id] == 0:
            result.missing.append(booking_id)
            continue
        if copies[booking_id] > 1:
            result.duplicated.append(booking_id)
            continue
        reservation = by_booking[booking_id]
        status = "cancelled" if revision["status"] == "cancelled" else "confirmed"
        if reservation.channel_revision_id != revision["revision_id"] or (
            reservation.status != status
        ):
            result.behind.append(booking_id)
            continue
        result.stored_once += 1
    result.unknown = sorted(str(b) for b in copies if b not in latest)
    expected = set(expected_overbooked)
    result.overbookings_expected = len(expected)
    result.overbookings_not_flagged = sorted(
        booking_id
        for booking_id in expected
        if booking_id not in by_booking or not by_booking[booking_id].is_overbooked
    )
    return result


def check_logs(paths: Iterable[Path]) -> LogCheck:
    """Error lines in the servers' logs: JSON records at error level, or plain ERROR lines."""
    result = LogCheck()
    for path in paths:
        if not path.exists():
            continue
        for line in path.read_text(errors="replace").splitlines():
            if _is_error(line):
                result.error_lines += 1
                if len(result.examples) < SHOWN:
                    result.examples.append(f"{path.name}: {line[:300]}")
    return result


def _is_error(line: str) -> bool:
    try:
        record = json.loads(line)
    except ValueError:
        return line.startswith(("ERROR", "CRITICAL", "Traceback"))
    if not isinstance(record, dict):
        return False
    return str(record.get("level", "")).lower() in ("error", "critical")


def unfinished_work(
    sessions: sessionmaker[Session],
    hotel: DemoHotel,
    revisions: Iterable[Mapping[str, Any]],
) -> dict[str, int]:
    """What innsync has still to do before both sides can agree; empty when it is done."""
    ours = InnsyncView.read(sessions, hotel.property_id, hotel.connection_id)
    rows = [r for r in revisions if r["property_id"] == hotel.channex_property_id]
    latest = {r["booking_id"]: r["revision_id"] for r in rows}
    with sessions() as session:
        applied = dict(
            session.execute(
                select(Reservation.channel_booking_id, Reservation.channel_revision_id).where(
                    Reservation.property_id == hotel.property_id,
                    Reservation.source == str(hotel.connection_id),
                )
            ).all()
        )
    work = {
        "dirty marks": ours.dirty_marks,
        "inbox items": ours.inbox_pending,
        "unacknowledged revisions": sum(1 for r in rows if r["acked_at"] is None),
        "bookings not at their latest revision": sum(
            1
            for booking_id, revision_id in latest.items()
            if applied.get(booking_id) != revision_id
        ),
    }
    return {name: count for name, count in work.items() if count}

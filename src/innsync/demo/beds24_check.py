"""The end of ``innsync demo --channel beds24``: waiting for innsync to catch up, then checking
that innsync and the Beds24 simulator agree (availability and prices over the checked days) and
that every booking is held once on each side."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from innsync.demo.hotel import SetupError

SIM_ROOMS = (201, 202)
# Bookings fall within this many days from today; the check compares this window plus a week.
BOOKING_DAYS = 21
CHECKED_DAYS = BOOKING_DAYS + 7
SETTLE_POLL_SECONDS = 1.0
# Two clean looks in a row: a booking delivered between two reads shows in the second.
SETTLE_CLEAN_LOOKS = 2


@dataclass
class Tally:
    """What the traffic did, by kind; ``refused`` counts what either side turned down."""

    made: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    last_refusal: dict[str, str] = field(default_factory=dict)


@dataclass
class Beds24Report:
    """The verdict: every list empty and the wait settled means both sides agree."""

    settled: bool
    values_compared: int
    ari_mismatches: list[str]
    ota_bookings: int
    direct_bookings: int
    booking_problems: list[str]
    refused_pushes: int
    tally: Tally

    @property
    def passed(self) -> bool:
        return self.settled and not self.ari_mismatches and not self.booking_problems

    def lines(self) -> list[str]:
        made = ", ".join(f"{k} {v}" for k, v in sorted(self.tally.made.items())) or "none"
        refused = ", ".join(f"{k} {v}" for k, v in sorted(self.tally.refused.items())) or "none"
        return [
            f"traffic: {made}; refused: {refused}",
            *(f"  last refusal of {k}: {v}" for k, v in sorted(self.tally.last_refusal.items())),
            f"ARI: {self.values_compared} values compared, {len(self.ari_mismatches)} differ",
            *(f"  {m}" for m in self.ari_mismatches[:20]),
            f"bookings: {self.ota_bookings} from Beds24 each in innsync once; "
            f"{self.direct_bookings} direct each on Beds24 once "
            f"({self.refused_pushes} refused by Beds24, shown on the reservation)",
            *(f"  {p}" for p in self.booking_problems[:20]),
            "VERIFICATION PASSED" if self.passed else "VERIFICATION FAILED",
        ]


@dataclass(frozen=True, slots=True)
class Beds24Hotel:
    """The demo hotel's ids in innsync, by the simulator's roomId."""

    property_id: str
    connection_id: str
    room_ids: dict[int, str]  # Beds24 roomId -> innsync room type id
    plan_ids: dict[int, str]  # Beds24 roomId -> innsync rate plan id (price slot 1)


def utc_today() -> date:
    """The property's today (its time zone is UTC) and the simulator's."""
    return datetime.now(UTC).date()


def ok(answer: httpx.Response, what: str) -> dict[str, Any]:
    if answer.status_code not in (200, 201, 202):
        raise SetupError(f"{what}: {answer.status_code} {answer.text[:500]}")
    body: dict[str, Any] = answer.json()
    return body


def _reservations(api: httpx.Client, hotel: Beds24Hotel) -> list[dict[str, Any]]:
    """Every reservation of the hotel once, as last seen.

    The list is ordered by change, so a reservation changed while it is paged through comes
    again on a later page: the later copy replaces the earlier one.
    """
    found: dict[str, dict[str, Any]] = {}
    params: dict[str, str] = {}
    while True:
        page = ok(api.get(f"/properties/{hotel.property_id}/reservations", params=params), "list")
        if not page["items"]:  # the cursor is kept even past the end
            return list(found.values())
        found.update((item["id"], item) for item in page["items"])
        params["cursor"] = page["next_cursor"]


def _unfinished(api: httpx.Client, sim: httpx.Client, hotel: Beds24Hotel) -> int:
    """Work innsync still has: dirty marks, pending pushes, Beds24 bookings not yet in."""
    connection = ok(api.get(f"/connections/{hotel.connection_id}"), "connection")
    reservations = _reservations(api, hotel)
    pending = sum(
        1 for r in reservations for push in r["channel_pushes"] if push["state"] == "pending"
    )
    ours = {(r["channel_booking_id"], r["status"]) for r in reservations if r["source"] != "direct"}
    theirs = {
        (str(b["id"]), _status(b))
        for b in sim.get("/_sim/bookings").json()["data"]
        if not str(b.get("apiReference") or "").startswith("innsync-")
    }
    return int(connection["pending_marks"]) + pending + len(theirs - ours)


def _status(booking: dict[str, Any]) -> str:
    return "cancelled" if booking["status"] == "cancelled" else "confirmed"


def settle(api: httpx.Client, sim: httpx.Client, hotel: Beds24Hotel, limit: float) -> bool:
    deadline, clean = time.monotonic() + limit, 0
    while time.monotonic() < deadline:
        clean = 0 if _unfinished(api, sim, hotel) else clean + 1
        if clean >= SETTLE_CLEAN_LOOKS:
            return True
        time.sleep(SETTLE_POLL_SECONDS)
    return False


def verify(
    api: httpx.Client, sim: httpx.Client, hotel: Beds24Hotel, tally: Tally, settled: bool
) -> Beds24Report:
    today = utc_today()
    last = today + timedelta(days=CHECKED_DAYS - 1)
    window = {"date_from": today.isoformat(), "date_to": last.isoformat()}
    calendar = sim.get("/_sim/calendar").json()["data"]
    held = ok(api.get(f"/properties/{hotel.property_id}/availability", params=window), "avail")
    available = {
        (row["room_type_id"], day["stay_date"]): day["available"]
        for row in held["room_types"]
        for day in row["days"]
    }
    mismatches: list[str] = []
    compared = 0
    for room in SIM_ROOMS:
        prices = ok(api.get(f"/rate-plans/{hotel.plan_ids[room]}/calendar", params=window), "ari")
        for day in prices["days"]:
            stay = day["stay_date"]
            shown = calendar.get(str(room), {}).get(stay, {})
            ours = (available[(hotel.room_ids[room], stay)], float(day["price"]))
            theirs = (shown.get("numAvail"), shown.get("price1"))
            compared += 2
            if ours != theirs:
                mismatches.append(f"room {room} {stay}: innsync {ours}, Beds24 {theirs}")
    return _check_bookings(api, sim, hotel, tally, settled, compared, mismatches)


def _check_bookings(
    api: httpx.Client,
    sim: httpx.Client,
    hotel: Beds24Hotel,
    tally: Tally,
    settled: bool,
    compared: int,
    mismatches: list[str],
) -> Beds24Report:
    reservations = _reservations(api, hotel)
    bookings = sim.get("/_sim/bookings").json()["data"]
    problems: list[str] = []
    ota = [b for b in bookings if not str(b.get("apiReference") or "").startswith("innsync-")]
    by_channel_id = Counter(
        r["channel_booking_id"] for r in reservations if r["source"] != "direct"
    )
    for booking in ota:
        ours = [r for r in reservations if r["channel_booking_id"] == str(booking["id"])]
        if by_channel_id[str(booking["id"])] != 1:
            problems.append(f"Beds24 booking {booking['id']} is in innsync {len(ours)} times")
        elif (ours[0]["status"], ours[0]["arrival"]) != (_status(booking), booking["arrival"]):
            problems.append(f"Beds24 booking {booking['id']} differs in innsync")
    references = Counter(str(b.get("apiReference")) for b in bookings)
    direct = [r for r in reservations if r["source"] == "direct"]
    refused = 0
    for reservation in direct:
        (push,) = reservation["channel_pushes"] or [{"state": "missing"}]
        reference = f"innsync-{reservation['id']}"
        if push["state"] == "refused":
            refused += 1
            if references[reference]:
                problems.append(f"direct {reservation['id']} refused but on Beds24")
            continue
        copies = [b for b in bookings if b.get("apiReference") == reference]
        if push["state"] != "pushed" or len(copies) != 1:
            problems.append(
                f"direct {reservation['id']}: push {push['state']}, {len(copies)} on Beds24"
            )
        elif (_status(copies[0]), copies[0]["departure"]) != (
            reservation["status"],
            reservation["departure"],
        ):
            problems.append(f"direct {reservation['id']} differs on Beds24")
    return Beds24Report(
        settled, compared, mismatches, len(ota), len(direct), problems, refused, tally
    )

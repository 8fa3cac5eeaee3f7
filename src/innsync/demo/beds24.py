"""``innsync demo --channel beds24``: innsync and the Beds24 simulator, traffic on both sides,
then a check that both agree and every booking is held once on each side.

Smaller than the Channex demo on purpose: one property (the simulator's 101, rooms 201 and 202
with 5 units each), one rate plan per room on Beds24's first price slot, traffic from the PMS
(prices, direct bookings, their changes and cancellations) and from OTAs through Beds24
(bookings, changes, cancellations). The simulator delivers its booking webhooks after
``WEBHOOK_DELAY_SECONDS`` and innsync also pulls (``modifiedFrom``) every ``PULL_SECONDS``.
"""

from __future__ import annotations

import argparse
import random
import secrets
import signal
import sys
import threading
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from innsync.db.engine import build_engine, session_factory, transaction
from innsync.db.migrate import upgrade
from innsync.demo.hotel import SetupError
from innsync.demo.processes import INNSYNC, child_env, running
from innsync.tenants.service import create_tenant

SIM_PROPERTY = 101
SIM_ROOMS = (201, 202)
UNITS = 5  # the simulator's default qty of each room
# A refresh token the simulator knows from the start: a fixture, not a secret.
REFRESH_TOKEN = "sim-refresh-token"  # noqa: S105
WEBHOOK_HEADER = "x-innsync-webhook-secret"
# Webhooks come this long after a change (Beds24 says about a minute; shorter for a demo).
WEBHOOK_DELAY_SECONDS = 2.0
# innsync's modifiedFrom pull: the adapter's lowest allowed interval.
PULL_SECONDS = 30
# Bookings fall within this many days from today; the check compares this window plus a week.
BOOKING_DAYS = 21
CHECKED_DAYS = BOOKING_DAYS + 7
BASE_PRICE = 100
REQUEST_LOG_SIZE = 100_000
SETTLE_POLL_SECONDS = 1.0
# Two clean looks in a row: a booking delivered between two reads shows in the second.
SETTLE_CLEAN_LOOKS = 2
INNSYNC_LOG, SIMULATOR_LOG, REPORT = "innsync.log", "simulator.log", "verification.txt"


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


def run_beds24_demo(
    data_dir: Path,
    *,
    port: int,
    sim_port: int,
    seconds: float | None,
    seed: int,
    rate: float,
    settle_seconds: float,
    echo: Any,
) -> Beds24Report:
    """Start both servers, set the hotel up through the API, run traffic, wait, check."""
    database_url = f"sqlite:///{data_dir / 'innsync.sqlite3'}"
    engine = build_engine(database_url)
    try:
        upgrade(engine)
        with transaction(session_factory(engine)) as session:
            _, issued = create_tenant(session, "Demo Hotels")
    finally:
        engine.dispose()
    env = child_env(
        {
            "INNSYNC_DATABASE_URL": database_url,
            "INNSYNC_SECRET_KEY_FILE": str(data_dir / "secret.key"),
            "INNSYNC_LOG_LEVEL": "INFO",
            "INNSYNC_LOG_JSON": "true",
        }
    )
    innsync_root, sim_root = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{sim_port}"
    with ExitStack() as servers:
        echo(f"starting the Beds24 simulator on {sim_root} and innsync on {innsync_root} ...")
        simulator = [sys.executable, "-m", "innsync.demo.beds24", "--port", str(sim_port)]
        servers.enter_context(
            running(
                [*simulator, "--seed", str(seed)],
                data_dir / SIMULATOR_LOG,
                env,
                f"{sim_root}/_sim/faults",
            )
        )
        serve = ["serve", "--host", "127.0.0.1", "--port", str(port), "--no-migrate"]
        servers.enter_context(
            running([*INNSYNC, *serve], data_dir / INNSYNC_LOG, env, f"{innsync_root}/readyz")
        )
        auth = {"authorization": f"Bearer {issued.secret}"}
        with (
            httpx.Client(base_url=f"{innsync_root}/api/v1", headers=auth, timeout=60) as api,
            httpx.Client(base_url=sim_root, timeout=60) as sim,
        ):
            hotel = _create_hotel(api, f"{sim_root}/v2")
            echo(f"API key (admin) {issued.secret}; property {hotel.property_id}")
            stop = _stop_on_signal()
            traffic_rng = random.Random(seed)  # noqa: S311  (repeatable traffic, no secrets)
            tally = _Traffic(api, sim, hotel, traffic_rng, rate).run(stop, seconds)
            echo(f"traffic stopped ({sum(tally.made.values())} events); waiting for innsync ...")
            settled = _settle(api, sim, hotel, settle_seconds)
            report = _verify(api, sim, hotel, tally, settled)
        echo("stopping innsync and the simulator ...")
    for line in report.lines():
        echo(line)
    (data_dir / REPORT).write_text("\n".join(report.lines()) + "\n")
    return report


@dataclass(frozen=True, slots=True)
class _Hotel:
    property_id: str
    connection_id: str
    room_ids: dict[int, str]  # Beds24 roomId -> innsync room type id
    plan_ids: dict[int, str]  # Beds24 roomId -> innsync rate plan id (price slot 1)


def _today() -> date:
    """The property's today (its time zone is UTC) and the simulator's."""
    return datetime.now(UTC).date()


def _ok(answer: httpx.Response, what: str) -> dict[str, Any]:
    if answer.status_code not in (200, 201, 202):
        raise SetupError(f"{what}: {answer.status_code} {answer.text[:500]}")
    body: dict[str, Any] = answer.json()
    return body


def _create_hotel(api: httpx.Client, sim_api: str) -> _Hotel:
    """Property, two rooms with a plan each, rates, the Beds24 connection, mappings, webhooks."""
    prop = _ok(
        api.post(
            "/properties",
            json={"name": "Beds24 Demo", "timezone": "UTC", "currency": "EUR", "horizon_days": 365},
        ),
        "property",
    )
    property_id = prop["id"]
    room_ids: dict[int, str] = {}
    plan_ids: dict[int, str] = {}
    for room in SIM_ROOMS:
        created = _ok(
            api.post(
                f"/properties/{property_id}/room-types",
                json={
                    "code": f"R{room}",
                    "name": f"Room {room}",
                    "sellable_units": UNITS,
                    "max_adults": 2,
                    "max_occupancy": 2,
                    "default_occupancy": 2,
                },
            ),
            f"room type {room}",
        )
        room_ids[room] = created["id"]
        plan = _ok(
            api.post(
                f"/properties/{property_id}/rate-plans",
                json={"room_type_id": created["id"], "code": f"R{room}-BAR", "name": "Best rate"},
            ),
            f"rate plan of {room}",
        )
        plan_ids[room] = plan["id"]
    today = _today()
    _ok(
        api.post(
            f"/properties/{property_id}/ari",
            json={
                "entries": [
                    {
                        "rate_plan_id": plan_ids[room],
                        "date_from": today.isoformat(),
                        "date_to": (today + timedelta(days=364)).isoformat(),
                        "price": str(BASE_PRICE),
                    }
                    for room in SIM_ROOMS
                ]
            },
        ),
        "opening rates",
    )
    secret = secrets.token_urlsafe(24)
    connection = _ok(
        api.post(
            f"/properties/{property_id}/connections",
            json={
                "channel": "beds24",
                "name": "Beds24 (simulator)",
                "config": {
                    "base_url": sim_api,
                    "refresh_token": REFRESH_TOKEN,
                    "property_id": SIM_PROPERTY,
                    "currency": "EUR",
                    "webhook_header": WEBHOOK_HEADER,
                    "webhook_secret": secret,
                    "pull_poll_seconds": PULL_SECONDS,
                    # §2.6: each room's one plan is its first price slot.
                    "rate_plan_slots": {f"{room}-BAR": 1 for room in SIM_ROOMS},
                },
            },
        ),
        "Beds24 connection",
    )
    connection_id = connection["id"]
    _ok(
        api.put(
            f"/connections/{connection_id}/mappings",
            json={
                "room_types": [
                    {"room_type_id": room_ids[room], "channel_code": str(room)}
                    for room in SIM_ROOMS
                ],
                "rate_plans": [
                    {"rate_plan_id": plan_ids[room], "channel_code": f"{room}-BAR"}
                    for room in SIM_ROOMS
                ],
            },
        ),
        "mappings",
    )
    _ok(api.post(f"/connections/{connection_id}/webhooks/register"), "Beds24 webhook")
    _ok(api.post(f"/connections/{connection_id}/full-sync"), "the first full sync")
    return _Hotel(property_id, connection_id, room_ids, plan_ids)


def _stop_on_signal() -> threading.Event:
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, lambda *_: stop.set())
    return stop


@dataclass
class _Traffic:
    """One event at a time at random intervals, seeded."""

    api: httpx.Client
    sim: httpx.Client
    hotel: _Hotel
    rng: random.Random
    rate: float
    tally: Tally = field(default_factory=Tally)
    ota: list[int] = field(default_factory=list)  # live Beds24 booking ids
    direct: list[str] = field(default_factory=list)  # live innsync reservation ids

    def run(self, stop: threading.Event, seconds: float | None) -> Tally:
        ends = None if seconds is None else time.monotonic() + seconds
        while not stop.is_set() and (ends is None or time.monotonic() < ends):
            self.step()
            stop.wait(self.rng.expovariate(self.rate))
        return self.tally

    def step(self) -> None:
        roll = self.rng.random()
        if roll < 0.3:
            self._price()
        elif roll < 0.55:
            self._ota_booking()
        elif roll < 0.65 and self.ota:
            self._ota_change()
        elif roll < 0.72 and self.ota:
            self._ota_cancel()
        elif roll < 0.85 or not self.direct:
            self._direct_booking()
        elif roll < 0.93:
            self._direct_change()
        else:
            self._direct_cancel()

    def _stay(self) -> tuple[int, date, date]:
        room = SIM_ROOMS[self.rng.randrange(len(SIM_ROOMS))]
        arrival = _today() + timedelta(days=self.rng.randrange(1, BOOKING_DAYS - 4))
        return room, arrival, arrival + timedelta(days=self.rng.randrange(1, 4))

    def _count(self, kind: str, answer: httpx.Response) -> bool:
        taken = answer.status_code in (200, 201)
        (self.tally.made if taken else self.tally.refused)[kind] += 1
        if not taken:
            self.tally.last_refusal[kind] = f"{answer.status_code} {answer.text[:200]}"
        return taken

    def _price(self) -> None:
        room = SIM_ROOMS[self.rng.randrange(len(SIM_ROOMS))]
        first = _today() + timedelta(days=self.rng.randrange(0, CHECKED_DAYS))
        entry = {
            "rate_plan_id": self.hotel.plan_ids[room],
            "date_from": first.isoformat(),
            "date_to": (first + timedelta(days=self.rng.randrange(0, 7))).isoformat(),
            "price": str(BASE_PRICE + self.rng.randrange(-20, 60)),
        }
        answer = self.api.post(
            f"/properties/{self.hotel.property_id}/ari", json={"entries": [entry]}
        )
        self._count("price changes", answer)

    def _ota_booking(self) -> None:
        room, arrival, departure = self._stay()
        body = {"roomId": room, "arrival": arrival.isoformat(), "departure": departure.isoformat()}
        answer = self.sim.post("/_sim/bookings", json=body)
        if self._count("OTA bookings", answer):
            self.ota.append(int(answer.json()["data"][0]["id"]))

    def _ota_change(self) -> None:
        booking = self.ota[self.rng.randrange(len(self.ota))]
        answer = self.sim.post(
            f"/_sim/bookings/{booking}/modify", json={"numAdult": self.rng.randrange(1, 3)}
        )
        self._count("OTA changes", answer)

    def _ota_cancel(self) -> None:
        booking = self.ota.pop(self.rng.randrange(len(self.ota)))
        self._count("OTA cancellations", self.sim.post(f"/_sim/bookings/{booking}/cancel", json={}))

    def _direct_booking(self) -> None:
        room, arrival, departure = self._stay()
        body = {
            "arrival": arrival.isoformat(),
            "departure": departure.isoformat(),
            "rooms": [
                {
                    "room_type_id": self.hotel.room_ids[room],
                    "rate_plan_id": self.hotel.plan_ids[room],
                    "adults": 2,
                }
            ],
            "guest": {"first_name": "Direct", "last_name": f"Guest {self.rng.randrange(1000)}"},
        }
        answer = self.api.post(f"/properties/{self.hotel.property_id}/reservations", json=body)
        if self._count("direct bookings", answer):
            self.direct.append(answer.json()["id"])

    def _direct_change(self) -> None:
        reservation = self.direct[self.rng.randrange(len(self.direct))]
        answer = self.api.patch(
            f"/reservations/{reservation}", json={"special_requests": "Quiet room, please"}
        )
        self._count("direct changes", answer)

    def _direct_cancel(self) -> None:
        reservation = self.direct.pop(self.rng.randrange(len(self.direct)))
        self._count("direct cancellations", self.api.post(f"/reservations/{reservation}/cancel"))


def _reservations(api: httpx.Client, hotel: _Hotel) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    params: dict[str, str] = {}
    while True:
        page = _ok(api.get(f"/properties/{hotel.property_id}/reservations", params=params), "list")
        if not page["items"]:  # the cursor is kept even past the end
            return found
        found += page["items"]
        params["cursor"] = page["next_cursor"]


def _unfinished(api: httpx.Client, sim: httpx.Client, hotel: _Hotel) -> int:
    """Work innsync still has: dirty marks, pending pushes, Beds24 bookings not yet in."""
    connection = _ok(api.get(f"/connections/{hotel.connection_id}"), "connection")
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


def _settle(api: httpx.Client, sim: httpx.Client, hotel: _Hotel, limit: float) -> bool:
    deadline, clean = time.monotonic() + limit, 0
    while time.monotonic() < deadline:
        clean = 0 if _unfinished(api, sim, hotel) else clean + 1
        if clean >= SETTLE_CLEAN_LOOKS:
            return True
        time.sleep(SETTLE_POLL_SECONDS)
    return False


def _verify(
    api: httpx.Client, sim: httpx.Client, hotel: _Hotel, tally: Tally, settled: bool
) -> Beds24Report:
    today = _today()
    last = today + timedelta(days=CHECKED_DAYS - 1)
    window = {"date_from": today.isoformat(), "date_to": last.isoformat()}
    calendar = sim.get("/_sim/calendar").json()["data"]
    held = _ok(api.get(f"/properties/{hotel.property_id}/availability", params=window), "avail")
    available = {
        (row["room_type_id"], day["stay_date"]): day["available"]
        for row in held["room_types"]
        for day in row["days"]
    }
    mismatches: list[str] = []
    compared = 0
    for room in SIM_ROOMS:
        prices = _ok(api.get(f"/rate-plans/{hotel.plan_ids[room]}/calendar", params=window), "ari")
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
    hotel: _Hotel,
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


def main() -> None:
    """The demo's simulator process: ``python -m innsync.demo.beds24 --port N``."""
    from innsync.simulators.beds24 import SimulatorConfig, create_app

    parser = argparse.ArgumentParser(description="The Beds24 simulator as the demo runs it")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    config = SimulatorConfig(
        seed=args.seed,
        webhook_delay_seconds=WEBHOOK_DELAY_SECONDS,
        request_log_size=REQUEST_LOG_SIZE,
    )
    uvicorn.run(create_app(config), host="127.0.0.1", port=args.port, access_log=False)


if __name__ == "__main__":
    main()

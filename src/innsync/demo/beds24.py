"""``innsync demo --channel beds24``: innsync and the Beds24 simulator, traffic on both sides,
then a check that both agree and every booking is held once on each side.

Smaller than the Channex demo on purpose: one property (the simulator's 101, rooms 201 and 202
with 5 units each), one rate plan per room on Beds24's first price slot, traffic from the PMS
(prices, direct bookings, their changes and cancellations) and from OTAs through Beds24
(bookings, changes, cancellations). The simulator delivers its booking webhooks after
``WEBHOOK_DELAY_SECONDS`` and innsync also pulls (``modifiedFrom``) every ``PULL_SECONDS``.
The wait and the check are in ``beds24_check.py``.
"""

from __future__ import annotations

import argparse
import random
import secrets
import signal
import sys
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from innsync.db.engine import build_engine, session_factory, transaction
from innsync.db.migrate import upgrade
from innsync.demo.beds24_check import (
    BOOKING_DAYS,
    CHECKED_DAYS,
    SIM_ROOMS,
    Beds24Hotel,
    Beds24Report,
    Tally,
    ok,
    settle,
    utc_today,
    verify,
)
from innsync.demo.processes import INNSYNC, child_env, running
from innsync.tenants.service import create_tenant

SIM_PROPERTY = 101
UNITS = 5  # the simulator's default qty of each room
# A refresh token the simulator knows from the start: a fixture, not a secret.
REFRESH_TOKEN = "sim-refresh-token"  # noqa: S105
WEBHOOK_HEADER = "x-innsync-webhook-secret"
# Webhooks come this long after a change (Beds24 says about a minute; shorter for a demo).
WEBHOOK_DELAY_SECONDS = 2.0
# innsync's modifiedFrom pull: the adapter's lowest allowed interval.
PULL_SECONDS = 30
BASE_PRICE = 100
REQUEST_LOG_SIZE = 100_000
INNSYNC_LOG, SIMULATOR_LOG, REPORT = "innsync.log", "simulator.log", "verification.txt"


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
            settled = settle(api, sim, hotel, settle_seconds)
            report = verify(api, sim, hotel, tally, settled)
        echo("stopping innsync and the simulator ...")
    for line in report.lines():
        echo(line)
    (data_dir / REPORT).write_text("\n".join(report.lines()) + "\n")
    return report


def _create_hotel(api: httpx.Client, sim_api: str) -> Beds24Hotel:
    """Property, two rooms with a plan each, rates, the Beds24 connection, mappings, webhooks."""
    prop = ok(
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
        created = ok(
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
        plan = ok(
            api.post(
                f"/properties/{property_id}/rate-plans",
                json={"room_type_id": created["id"], "code": f"R{room}-BAR", "name": "Best rate"},
            ),
            f"rate plan of {room}",
        )
        plan_ids[room] = plan["id"]
    today = utc_today()
    ok(
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
    connection = ok(
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
    ok(
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
    ok(api.post(f"/connections/{connection_id}/webhooks/register"), "Beds24 webhook")
    ok(api.post(f"/connections/{connection_id}/full-sync"), "the first full sync")
    return Beds24Hotel(property_id, connection_id, room_ids, plan_ids)


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
    hotel: Beds24Hotel
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
        arrival = utc_today() + timedelta(days=self.rng.randrange(1, BOOKING_DAYS - 4))
        return room, arrival, arrival + timedelta(days=self.rng.randrange(1, 4))

    def _count(self, kind: str, answer: httpx.Response) -> bool:
        taken = answer.status_code in (200, 201)
        (self.tally.made if taken else self.tally.refused)[kind] += 1
        if not taken:
            self.tally.last_refusal[kind] = f"{answer.status_code} {answer.text[:200]}"
        return taken

    def _price(self) -> None:
        room = SIM_ROOMS[self.rng.randrange(len(SIM_ROOMS))]
        first = utc_today() + timedelta(days=self.rng.randrange(0, CHECKED_DAYS))
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

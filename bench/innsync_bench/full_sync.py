"""full_sync: requests and bytes of a 500-day full sync to Channex, against the minimum and two
baselines sent to the same simulator.

For each size, three identical hotels are created in one Channex simulator: innsync pushes one
through its real worker and adapter; the two baselines push the same values (innsync's desired
state, translated to Channex JSON) to the other two:

- **per date, per room type**: one entry per date, one availability request and one restrictions
  request (every plan of the room type) per room type per sync;
- **50 x 365 batches**: single-date entries in requests of at most 50 room types (or rate plans)
  x 365 days.

Requests and bytes are counted from the simulator's own request log. The simulator runs with a
very high ARI limit so that the baselines are not throttled (at Channex's real 10 calls per
minute they would also wait; the table shows how long). Afterwards all three properties are read
back and must show exactly innsync's desired values.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from innsync.channels.channex import ChannexAdapter, ChannexConfig
from innsync.channels.channex.mapping import restriction_fields
from innsync.channels.types import RatePlanKey, RateValues
from innsync.connections.models import Connection
from innsync.connections.schemas import ConnectionCreate
from innsync.connections.service import build_adapter
from innsync.crypto import SecretBox, generate_key
from innsync.db.engine import session_factory, transaction
from innsync.db.personal import install_keys
from innsync.outbox.models import DirtyMark
from innsync.properties.models import Property
from innsync.properties.service import property_today
from innsync.stay_dates import DateRange
from innsync.sync.desired import desired_availability, desired_rates, load_mappings
from innsync.sync.worker import SyncWorker
from innsync.tenants.service import create_tenant
from innsync_bench.channex_side import ChannexHotel, Simulator, channex_simulator, provision_many
from innsync_bench.databases import sqlite_database
from innsync_bench.hotels import HORIZON_DAYS, Hotel, create_hotel, map_to_channex, seed_varied_ari
from innsync_bench.registry import RunOptions
from innsync_bench.results import Outcome, Table
from innsync_bench.simulator_server import API_KEY

TITLE = "requests and bytes of a 500-day full sync, against the minimum and two baselines"
# (room types, rate plans per room type): the seed design's hotel, and Channex's largest hotel
# (channex.md §1.3: at most 20 room types and 200 rate plans).
SIZES = ((2, 2), (20, 10))
QUICK_SIZES = ((2, 2),)
# channex.md §1.3: 10 MB per JSON call, 10 calls per minute per endpoint and property.
CHANNEX_MAX_BYTES = 10_000_000
CHANNEX_CALLS_PER_MINUTE = 10
# High enough that no baseline request is ever refused with 429.
UNTHROTTLED_CALLS_PER_MINUTE = 1_000_000
BATCH_ROOMS, BATCH_DAYS = 50, 365
ARI_CLASSES = ("availability", "restrictions")

Desired = tuple[dict[str, dict[date, int]], dict[RatePlanKey, dict[date, RateValues]]]


@dataclass
class Pushed:
    """What one approach sent: requests and body bytes per endpoint, and seconds taken."""

    requests: dict[str, int]
    bytes: dict[str, int]
    seconds: float

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())

    @property
    def total_bytes(self) -> int:
        return sum(self.bytes.values())

    def minutes_at_channex_limit(self) -> int:
        """Whole minutes of waiting Channex's 10 calls per minute would force on these calls."""
        return max((count - 1) // CHANNEX_CALLS_PER_MINUTE for count in self.requests.values())


def run(options: RunOptions) -> Outcome:
    sizes = QUICK_SIZES if options.quick else SIZES
    rows: list[list[str]] = []
    data: dict[str, Any] = {"sizes": []}
    findings: list[str] = []
    with channex_simulator(
        options.workdir, calls_per_minute=UNTHROTTLED_CALLS_PER_MINUTE, log_size=200_000
    ) as simulator:
        for rooms, plans in sizes:
            label = f"{rooms} room types x {plans} rate plans"
            options.progress(f"full_sync: {label}")
            measured = _measure(simulator, options, rooms, plans)
            data["sizes"].append({"rooms": rooms, "plans_per_room": plans, **measured})
            rows += _rows(label, measured)
            innsync = measured["innsync"]
            minimum = measured["minimum"]["requests"]
            verdict = "at" if innsync["total_requests"] == minimum else "above"
            findings.append(
                f"{label}: innsync sent {innsync['total_requests']} requests, {verdict} the "
                f"minimum of {minimum}; the baselines sent "
                f"{measured['per_date']['total_requests']} and "
                f"{measured['batches']['total_requests']} requests "
                f"({measured['per_date']['total_bytes'] / innsync['total_bytes']:.0f}x and "
                f"{measured['batches']['total_bytes'] / innsync['total_bytes']:.0f}x the bytes)."
            )
    table = Table(
        "Full sync of 500 days (requests counted by the simulator; bytes are request bodies)",
        [
            "hotel",
            "approach",
            "requests (availability + restrictions)",
            "bytes",
            "requests ÷ innsync",
            "bytes ÷ innsync",
            "forced wait at 10 calls/min",
        ],
        rows,
    )
    return Outcome(
        sizes=(
            "500-day horizon; "
            + ", ".join(f"{r} room types x {p} rate plans" for r, p in sizes)
            + "; varied ARI (seasons, weekend prices, min/max stay, stop sell, CTA, CTD, a block,"
            " three bookings). Simulator ARI limit raised to "
            f"{UNTHROTTLED_CALLS_PER_MINUTE:,}/min so baselines are not throttled."
        ),
        tables=[table],
        findings=[
            *findings,
            "Minimum: Channex takes availability and restrictions on separate endpoints (one call"
            " each at least), puts no limit on entries per call and caps a call at 10 MB"
            " (channex.md §1.3), so the minimum is ⌈body ÷ 10 MB⌉ per endpoint for the smallest"
            " body, i.e. 2 calls at both sizes (innsync's range-encoded bodies are far below"
            " 10 MB).",
        ],
        data=data,
    )


def _rows(label: str, measured: dict[str, Any]) -> list[list[str]]:
    innsync = measured["innsync"]
    rows = []
    for key, name in (
        ("minimum", "theoretical minimum"),
        ("innsync", "innsync"),
        ("per_date", "baseline: 1 entry per date, 1 request per room type"),
        ("batches", "baseline: 50 rooms x 365 single days per request"),
    ):
        figures = measured[key]
        requests = figures["requests"]
        if key == "minimum":
            rows.append(
                [
                    label,
                    name,
                    f"{requests} ({figures['availability']} + {figures['restrictions']})",
                    "—",
                    f"{requests / innsync['total_requests']:.2f}",
                    "—",
                    "0 min",
                ]
            )
            continue
        rows.append(
            [
                label,
                name,
                f"{figures['total_requests']} ({figures['requests']['availability']} + "
                f"{figures['requests']['restrictions']})",
                f"{figures['total_bytes']:,}",
                f"{figures['total_requests'] / innsync['total_requests']:.1f}",
                f"{figures['total_bytes'] / innsync['total_bytes']:.1f}",
                f"{figures['minutes_at_channex_limit']} min",
            ]
        )
    return rows


def _measure(simulator: Simulator, options: RunOptions, rooms: int, plans: int) -> dict[str, Any]:
    ours, per_date_side, batch_side = provision_many(simulator, 3, rooms, plans)
    box = SecretBox([generate_key()])
    install_keys(box)  # personal data read and written here uses the run's key
    with sqlite_database(options.workdir, f"full-sync-{rooms}x{plans}") as (_url, engine):
        sessions = session_factory(engine)
        with transaction(sessions) as session:
            tenant, _ = create_tenant(session, "Bench")
            hotel = create_hotel(
                session,
                box,
                tenant.id,
                "Harbour",
                rooms=rooms,
                plans_per_room=plans,
                connection=ConnectionCreate(
                    channel="channex", name="Channex", config=simulator.connection_config(ours)
                ),
            )
            seed_varied_ari(session, hotel)
            map_to_channex(session, hotel, ours)
        started = time.perf_counter()
        asyncio.run(_drain(sessions, box, hotel))
        innsync_seconds = time.perf_counter() - started
        desired, today = _desired(sessions, hotel)

    translate_per_date = _translator(ours, per_date_side)
    translate_batches = _translator(ours, batch_side)
    started = time.perf_counter()
    _send(simulator, per_date_bodies(desired, today, per_date_side, translate_per_date, ours))
    per_date_seconds = time.perf_counter() - started
    started = time.perf_counter()
    _send(simulator, batch_bodies(desired, today, batch_side, translate_batches, ours))
    batch_seconds = time.perf_counter() - started

    log = simulator.requests()
    pushed = {
        "innsync": _pushed(log, ours, innsync_seconds),
        "per_date": _pushed(log, per_date_side, per_date_seconds),
        "batches": _pushed(log, batch_side, batch_seconds),
    }
    for side, translate in (
        (ours, lambda code: code),
        (per_date_side, translate_per_date),
        (batch_side, translate_batches),
    ):
        _verify(simulator, side, desired, today, translate)
    minimum = {
        endpoint: max(1, math.ceil(pushed["innsync"].bytes[endpoint] / CHANNEX_MAX_BYTES))
        for endpoint in ARI_CLASSES
    }
    return {
        "minimum": {"requests": sum(minimum.values()), **minimum},
        **{
            name: {
                "requests": p.requests,
                "bytes": p.bytes,
                "total_requests": p.total_requests,
                "total_bytes": p.total_bytes,
                "seconds": round(p.seconds, 3),
                "minutes_at_channex_limit": p.minutes_at_channex_limit(),
            }
            for name, p in pushed.items()
        },
    }


async def _drain(sessions: sessionmaker[Session], box: SecretBox, hotel: Hotel) -> None:
    """Run innsync's worker until the connection has nothing left to send."""
    async with httpx.AsyncClient(timeout=120) as http:
        worker = SyncWorker(
            sessions, lambda connection: build_adapter(connection, box, http), holder="bench"
        )
        deadline = time.monotonic() + 300
        while _pending(sessions, hotel):
            if time.monotonic() > deadline:
                raise RuntimeError("the full sync did not finish within 300 s")
            if not await worker.run_once():
                await asyncio.sleep(0.05)


def _pending(sessions: sessionmaker[Session], hotel: Hotel) -> int:
    with sessions() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(DirtyMark)
                .where(DirtyMark.connection_id == hotel.connection_id)
            )
            or 0
        )


def _desired(sessions: sessionmaker[Session], hotel: Hotel) -> tuple[Desired, date]:
    """innsync's desired state from today (Channex refuses past dates) to the horizon."""
    with sessions() as session:
        connection = session.get_one(Connection, hotel.connection_id)
        prop = session.get_one(Property, hotel.property_id)
        today = property_today(prop, datetime.now(UTC))
        window = [DateRange(today, today + timedelta(days=HORIZON_DAYS))]
        mappings = load_mappings(session, connection)
        availability = desired_availability(
            session, mappings, dict.fromkeys(hotel.room_type_ids, window)
        )
        rates = desired_rates(session, mappings, dict.fromkeys(hotel.all_plan_ids, window))
    return (availability, rates), today


def _translator(ours: ChannexHotel, theirs: ChannexHotel) -> Callable[[str], str]:
    """Channex ids of innsync's property to the same room type or plan of another property."""
    table = dict(zip(ours.room_type_ids, theirs.room_type_ids, strict=True))
    for our_plans, their_plans in zip(ours.rate_plan_ids, theirs.rate_plan_ids, strict=True):
        table.update(zip(our_plans, their_plans, strict=True))
    return table.__getitem__


def _availability_entry(side: ChannexHotel, room_type_id: str, day: date, units: int) -> Any:
    return {
        "property_id": side.property_id,
        "room_type_id": room_type_id,
        "date": day.isoformat(),
        "availability": units,
    }


def _restriction_entry(side: ChannexHotel, plan_id: str, day: date, values: RateValues) -> Any:
    return {
        "property_id": side.property_id,
        "rate_plan_id": plan_id,
        "date": day.isoformat(),
        **restriction_fields(values),
    }


Body = tuple[str, list[dict[str, Any]]]


def per_date_bodies(
    desired: Desired,
    today: date,
    side: ChannexHotel,
    translate: Callable[[str], str],
    ours: ChannexHotel,
) -> list[Body]:
    """Per room type: one availability and one restrictions request, one entry per date."""
    availability, rates = desired
    bodies: list[Body] = []
    for room_code, plan_codes in zip(ours.room_type_ids, ours.rate_plan_ids, strict=True):
        bodies.append(
            (
                "/availability",
                [
                    _availability_entry(side, translate(room_code), day, units)
                    for day, units in sorted(availability[room_code].items())
                    if day >= today
                ],
            )
        )
        bodies.append(
            (
                "/restrictions",
                [
                    _restriction_entry(side, translate(plan_code), day, values)
                    for plan_code in plan_codes
                    for day, values in sorted(rates[(room_code, plan_code)].items())
                    if day >= today
                ],
            )
        )
    return bodies


def batch_bodies(
    desired: Desired,
    today: date,
    side: ChannexHotel,
    translate: Callable[[str], str],
    ours: ChannexHotel,
) -> list[Body]:
    """Single-date entries in requests of at most 50 room types (or plans) x 365 days."""
    availability, rates = desired
    bodies: list[Body] = []
    days = sorted(day for day in availability[ours.room_type_ids[0]] if day >= today)
    day_batches = [days[first : first + BATCH_DAYS] for first in range(0, len(days), BATCH_DAYS)]
    room_codes = ours.room_type_ids
    plan_keys = [
        (room, plan)
        for room, plans in zip(ours.room_type_ids, ours.rate_plan_ids, strict=True)
        for plan in plans
    ]
    for first in range(0, len(room_codes), BATCH_ROOMS):
        for batch in day_batches:
            bodies.append(
                (
                    "/availability",
                    [
                        _availability_entry(side, translate(code), day, availability[code][day])
                        for code in room_codes[first : first + BATCH_ROOMS]
                        for day in batch
                    ],
                )
            )
    for first in range(0, len(plan_keys), BATCH_ROOMS):
        for batch in day_batches:
            bodies.append(
                (
                    "/restrictions",
                    [
                        _restriction_entry(side, translate(key[1]), day, rates[key][day])
                        for key in plan_keys[first : first + BATCH_ROOMS]
                        for day in batch
                    ],
                )
            )
    return bodies


def _send(simulator: Simulator, bodies: Sequence[Body]) -> None:
    """POST each body as the baseline would; every entry must be accepted."""
    with httpx.Client(
        base_url=simulator.api_url, headers={"user-api-key": API_KEY}, timeout=300
    ) as client:
        for path, values in bodies:
            response = client.post(path, json={"values": values})
            warnings = response.json().get("meta", {}).get("warnings", [])
            if response.status_code != 200 or warnings:
                raise RuntimeError(f"baseline {path} refused: {response.text[:500]}")


def _pushed(log: list[dict[str, Any]], side: ChannexHotel, seconds: float) -> Pushed:
    requests = dict.fromkeys(ARI_CLASSES, 0)
    sizes = dict.fromkeys(ARI_CLASSES, 0)
    for row in log:
        if (
            row["method"] == "POST"
            and row["endpoint_class"] in ARI_CLASSES
            and side.property_id in row["property_ids"]
        ):
            if row["status"] != 200:
                raise RuntimeError(f"an ARI write was answered {row['status']}: {row}")
            requests[row["endpoint_class"]] += 1
            sizes[row["endpoint_class"]] += row["body_bytes"]
    return Pushed(requests, sizes, seconds)


def _verify(
    simulator: Simulator,
    side: ChannexHotel,
    desired: Desired,
    today: date,
    translate: Callable[[str], str],
) -> None:
    """The property shows exactly innsync's desired values from today to the horizon."""
    availability, rates = desired
    window = DateRange(today, today + timedelta(days=HORIZON_DAYS))

    async def read() -> Desired:
        async with httpx.AsyncClient(timeout=300) as http:
            config = ChannexConfig(
                base_url=simulator.api_url, api_key=API_KEY, property_id=side.property_id
            )
            adapter = ChannexAdapter(config, http)
            rooms = [translate(code) for code in availability]
            keys = [(translate(room), translate(plan)) for room, plan in rates]
            return (
                await adapter.read_availability(rooms, window),
                await adapter.read_rates(keys, window),
            )

    shown_availability, shown_rates = asyncio.run(read())
    for code, days in availability.items():
        expected = {day: units for day, units in days.items() if day >= today}
        if shown_availability[translate(code)] != expected:
            raise RuntimeError(f"property {side.property_id}: availability of {code} differs")
    for (room, plan), values in rates.items():
        expected_rates = {day: value for day, value in values.items() if day >= today}
        if shown_rates[(translate(room), translate(plan))] != expected_rates:
            raise RuntimeError(f"property {side.property_id}: rates of {plan} differ")

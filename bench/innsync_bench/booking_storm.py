"""booking_storm: four channels selling the same few rooms at once, racing for the last ones.

One innsync property of 3 room types x 5 units is sold on four Channex simulator processes
(four channels, each its own connection, provisioned and subscribed through innsync's API).
Each channel behaves like an OTA: it sells a stay only while *its* availability, as innsync
last pushed it, shows a free unit on every night; it also modifies (one night longer) and
cancels its own bookings. All four sell concurrently into the same week, so they race for the
last rooms: a unit sold on one channel is still shown on the others until innsync has pushed
the new availability, which Channex's limit of 10 availability calls per minute per property
delays. Those races are the overbookings innsync must store and flag, never refuse.

innsync runs as real processes (``innsync serve`` with its loops, plus one ``innsync worker``
on PostgreSQL; ``innsync serve`` alone on SQLite) until it has converged: every revision
acknowledged, nothing pending, every channel showing innsync's availability. Then:

- every booking is one reservation of its connection, in its latest state (lost, duplicated);
- the ledger equals the confirmed reservations night by night;
- the reservations flagged overbooked are exactly those expected: innsync's audit trail is
  replayed in the order revisions were applied (``reservation_changes`` ids, which the
  property's room-type locks serialize), and a revision is expected to flag its reservation
  when it took a unit on a night that had none free;
- revisions applied per second (inbox ``processed_at``), and the time to converge.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from innsync.crypto import SecretBox, generate_key
from innsync.db.engine import session_factory
from innsync.db.personal import install_keys
from innsync.inventory.models import InventoryLedgerDay
from innsync.reservations.models import Reservation, ReservationChange
from innsync.stay_dates import DateRange
from innsync_bench.channel_fleet import (
    SIMULATOR_API_KEY,
    Channel,
    Site,
    check_ari,
    check_bookings,
    check_limits,
    connect,
    control_call,
    create_site,
    overbooked_nights,
    pending_work,
    revisions_per_second,
    simulators,
    unacknowledged,
)
from innsync_bench.databases import postgres_database, postgres_version, sqlite_database
from innsync_bench.processes import INNSYNC, free_port, innsync_env, running
from innsync_bench.registry import RunOptions
from innsync_bench.results import Outcome, Table

TITLE = "four channels booking the last rooms at once: lost, duplicated, overbookings flagged"
BACKENDS = ("postgresql", "sqlite")
# Quick: the multi-process deployment only (each backend needs about a minute to converge,
# most of it waiting out Channex's availability limit after the storm).
QUICK_BACKENDS = ("postgresql",)
CHANNELS, ROOMS, UNITS = 4, 3, 5
# The contested week starts tomorrow (today's date may already be past in some timezone).
FIRST_NIGHT_OFFSET, WEEK = 1, 7
# What each channel tries; a try on a sold-out stay is refused by the channel, as an OTA would.
ATTEMPTS, QUICK_ATTEMPTS = 60, 15
MODIFY_SHARE, CANCEL_SHARE = 0.15, 0.10
# Each channel pauses this long between its tries (a channel's own pace; four run at once).
PAUSE_SECONDS = (0.05, 0.4)
SEED = 20260
# Webhooks bring bookings; the feed is read this often for any a webhook missed (the minimum).
FEED_POLL_SECONDS = 5
CONVERGE_TIMEOUT_SECONDS = 300.0


@dataclass
class Sold:
    """What the channels did: bookings made, modified, cancelled, and tries refused."""

    booked: int = 0
    modified: int = 0
    cancelled: int = 0
    refused: int = 0
    live: dict[int, list[str]] = field(default_factory=dict)


def run(options: RunOptions) -> Outcome:
    attempts = QUICK_ATTEMPTS if options.quick else ATTEMPTS
    measured: list[dict[str, Any]] = []
    versions: dict[str, str] = {}
    for backend in QUICK_BACKENDS if options.quick else BACKENDS:
        options.progress(f"booking_storm: {backend}")
        with _database(options, backend) as (url, engine):
            if backend == "postgresql":
                versions["postgresql"] = postgres_version(engine)
            measured.append(_measure(options, backend, url, engine, attempts))
    return _outcome(measured, attempts, versions)


@contextmanager
def _database(options: RunOptions, backend: str) -> Iterator[tuple[str, Engine]]:
    if backend == "sqlite":
        with sqlite_database(options.workdir, "storm") as opened:
            yield opened
    else:
        with postgres_database(options.postgres_server, "storm") as opened:
            yield opened


def _measure(
    options: RunOptions, backend: str, url: str, engine: Engine, attempts: int
) -> dict[str, Any]:
    key = generate_key()
    box = SecretBox([key])
    install_keys(box)  # personal data read and written here uses the run's key
    sessions = session_factory(engine)
    with ExitStack() as stack:
        roots = stack.enter_context(simulators(options.workdir / backend, CHANNELS, SEED))
        site = create_site(
            engine,
            box,
            roots,
            rooms=ROOMS,
            units=UNITS,
            connection_config={"feed_poll_seconds": FEED_POLL_SECONDS},
        )
        port = free_port()
        innsync_url = f"http://127.0.0.1:{port}"
        env = innsync_env(url, key)
        stack.enter_context(
            running(
                [*INNSYNC, "serve", "--port", str(port), "--no-migrate"],
                options.workdir / backend / "serve.log",
                env=env,
                ready_url=f"{innsync_url}/healthz",
            )
        )
        if backend == "postgresql":
            stack.enter_context(
                running([*INNSYNC, "worker"], options.workdir / backend / "worker.log", env=env)
            )
        connect(site, engine, innsync_url)
        options.progress(f"booking_storm: {backend}, waiting for the first full syncs")
        _wait(options, sessions, site, lambda: True)
        started = time.monotonic()
        sold = asyncio.run(_storm(site, attempts))
        storm_seconds = time.monotonic() - started
        options.progress(
            f"booking_storm: {backend}, {sold.booked} booked, {sold.modified} modified, "
            f"{sold.cancelled} cancelled, {sold.refused} refused; converging"
        )
        converge_started = time.monotonic()
        _wait(options, sessions, site, lambda: not any(check_ari(site, sessions).values()))
        converge_seconds = time.monotonic() - converge_started
        bookings = check_bookings(site, sessions)
        limits = check_limits(site)
        ari = check_ari(site, sessions)
        flagged, expected = _overbookings(sessions, site)
        ledger_mismatches = _ledger_mismatches(sessions, site)
        changes, per_second = revisions_per_second(sessions, site)
    return {
        "backend": backend,
        "sold": {
            "booked": sold.booked,
            "modified": sold.modified,
            "cancelled": sold.cancelled,
            "refused_sold_out": sold.refused,
        },
        "storm_seconds": storm_seconds,
        "converge_seconds": converge_seconds,
        "bookings": bookings.as_dict(),
        "ari_mismatches": ari,
        "limit_429s": limits.limit_429s,
        "busiest_60s": limits.busiest_window,
        "rate_limit_violations": limits.violations,
        "overbooked_flagged": sorted(str(r) for r in flagged),
        "overbooked_expected": sorted(str(r) for r in expected),
        "overbooked_nights": overbooked_nights(sessions, site),
        "ledger_mismatches": ledger_mismatches,
        "revisions_applied": changes,
        "revisions_per_second": per_second,
    }


def _wait(
    options: RunOptions,
    sessions: sessionmaker[Session],
    site: Site,
    channels_agree: Callable[[], bool],
) -> None:
    """Until innsync has nothing pending, every revision is acknowledged and the channels
    agree (``channels_agree``, checked only once the rest holds); bounded, with progress."""
    deadline = time.monotonic() + CONVERGE_TIMEOUT_SECONDS
    last_report = time.monotonic()
    while time.monotonic() < deadline:
        pending = pending_work(sessions)
        unacked = unacknowledged(site)
        if not any(pending.values()) and not unacked and channels_agree():
            return
        if time.monotonic() - last_report > 15:
            last_report = time.monotonic()
            options.progress(f"booking_storm: still pending {pending}, {unacked} unacknowledged")
        time.sleep(0.5)
    raise RuntimeError(f"innsync did not converge within {CONVERGE_TIMEOUT_SECONDS:.0f} s")


async def _storm(site: Site, attempts: int) -> Sold:
    """Every channel sells, modifies and cancels at once; returns what they did."""
    sold = Sold()
    today = datetime.now(UTC).date()
    week = [today + timedelta(days=FIRST_NIGHT_OFFSET + n) for n in range(WEEK)]
    async with httpx.AsyncClient(timeout=120) as http:
        await asyncio.gather(
            *(
                _channel_storm(http, channel, site, week, attempts, sold)
                for channel in site.channels
            )
        )
    return sold


async def _channel_storm(
    http: httpx.AsyncClient,
    channel: Channel,
    site: Site,
    week: list[date],
    attempts: int,
    sold: Sold,
) -> None:
    rng = random.Random(f"{SEED}:{channel.index}")  # noqa: S311  (a repeatable workload)
    live = sold.live.setdefault(channel.index, [])
    for _ in range(attempts):
        await asyncio.sleep(rng.uniform(*PAUSE_SECONDS))
        roll = rng.random()
        if live and roll < CANCEL_SHARE:
            booking_id = live.pop(rng.randrange(len(live)))
            await control_call(http, channel, f"/_sim/bookings/{booking_id}/cancel", {})
            sold.cancelled += 1
            continue
        if live and roll < CANCEL_SHARE + MODIFY_SHARE:
            booking_id = rng.choice(live)
            revision = await _latest(http, channel, booking_id)
            departure = date.fromisoformat(revision["departure_date"])
            # A guest staying one night longer: the channel checks that night first.
            room_type = revision["rooms"][0]["room_type_id"]
            if await _has_room(http, channel, room_type, [departure]):
                await control_call(
                    http,
                    channel,
                    f"/_sim/bookings/{booking_id}/modify",
                    {"departure_date": (departure + timedelta(days=1)).isoformat()},
                )
                sold.modified += 1
            continue
        room = rng.randrange(len(site.room_type_ids))
        nights = rng.randint(1, 3)
        first = rng.randrange(len(week) - nights + 1)
        stay = week[first : first + nights]
        room_type = channel.room_types[site.room_type_ids[room]]
        if not await _has_room(http, channel, room_type, stay):
            sold.refused += 1
            continue
        created = await control_call(
            http,
            channel,
            "/_sim/bookings",
            {
                "property_id": channel.property_id,
                "room_type_id": room_type,
                "rate_plan_id": channel.rate_plans[site.rate_plan_ids[room]],
                "arrival_date": stay[0].isoformat(),
                "departure_date": (stay[-1] + timedelta(days=1)).isoformat(),
                "ota_name": ("Booking.com", "Expedia", "Airbnb", "Offline")[channel.index % 4],
                "customer_name": f"Guest{channel.index}",
                "customer_surname": uuid.uuid4().hex[:8],
            },
        )
        live.append(created["booking_id"])
        sold.booked += 1


async def _latest(http: httpx.AsyncClient, channel: Channel, booking_id: str) -> dict[str, Any]:
    """The booking's latest revision, as the channel's API shows it."""
    answer = await http.get(
        f"{channel.root}/api/v1/bookings/{booking_id}",
        headers={"user-api-key": SIMULATOR_API_KEY},
    )
    attributes: dict[str, Any] = answer.json()["data"]["attributes"]
    return attributes


async def _has_room(
    http: httpx.AsyncClient, channel: Channel, room_type: str, nights: list[date]
) -> bool:
    """Whether the channel shows a free unit of the room type on every night."""
    answer = await http.get(
        f"{channel.root}/api/v1/availability",
        params={
            "filter[property_id]": channel.property_id,
            "filter[date][gte]": min(nights).isoformat(),
            "filter[date][lte]": max(nights).isoformat(),
        },
        headers={"user-api-key": SIMULATOR_API_KEY},
    )
    shown = answer.json()["data"].get(room_type, {})
    return all(shown.get(night.isoformat(), 0) > 0 for night in nights)


def _overbookings(
    sessions: sessionmaker[Session], site: Site
) -> tuple[set[uuid.UUID], set[uuid.UUID]]:
    """Reservations innsync flagged, and those its audit trail says it should have flagged."""
    with sessions() as session:
        reservations = list(
            session.scalars(select(Reservation).where(Reservation.property_id == site.property_id))
        )
        rows = session.execute(
            select(ReservationChange.reservation_id, ReservationChange.snapshot)
            .where(ReservationChange.reservation_id.in_([r.id for r in reservations]))
            .order_by(ReservationChange.id)
        ).all()
    flagged = {r.id for r in reservations if r.is_overbooked}
    expected: set[uuid.UUID] = set()
    sold: Counter[tuple[str, date]] = Counter()
    holding: dict[uuid.UUID, Counter[tuple[str, date]]] = {}
    for reservation_id, snapshot in rows:
        now_holds = _nights(snapshot)
        delta = Counter(now_holds)
        delta.subtract(holding.get(reservation_id, Counter()))
        # innsync's rule (reservations/channel.py): a night is short when it takes more units
        # than are free, free never below zero.
        if any(count > max(site.units - sold[key], 0) for key, count in delta.items() if count > 0):
            expected.add(reservation_id)
        sold.update(delta)
        holding[reservation_id] = now_holds
    return flagged, expected


def _nights(snapshot: dict[str, Any]) -> Counter[tuple[str, date]]:
    held: Counter[tuple[str, date]] = Counter()
    if snapshot["status"] != "confirmed":
        return held
    stay = DateRange(
        date.fromisoformat(snapshot["arrival"]), date.fromisoformat(snapshot["departure"])
    )
    for room in snapshot["rooms"]:
        for night in stay:
            held[(room["room_type_id"], night)] += 1
    return held


def _ledger_mismatches(sessions: sessionmaker[Session], site: Site) -> int:
    """Room-type nights where the ledger's sold units differ from the confirmed reservations."""
    with sessions() as session:
        held: Counter[tuple[str, date]] = Counter()
        for reservation in session.scalars(
            select(Reservation).where(
                Reservation.property_id == site.property_id, Reservation.status == "confirmed"
            )
        ):
            for room in reservation.rooms:
                for night in DateRange(reservation.arrival, reservation.departure):
                    held[(str(room.room_type_id), night)] += 1
        ledger = {
            (str(row.room_type_id), row.stay_date): row.sold
            for row in session.scalars(
                select(InventoryLedgerDay).where(
                    InventoryLedgerDay.room_type_id.in_(site.room_type_ids)
                )
            )
        }
    keys = set(held) | set(ledger)
    return sum(1 for key in keys if held.get(key, 0) != ledger.get(key, 0))


def _outcome(measured: list[dict[str, Any]], attempts: int, versions: dict[str, str]) -> Outcome:
    rows, findings = [], []
    for figures in measured:
        bookings = figures["bookings"]
        flagged, expected = figures["overbooked_flagged"], figures["overbooked_expected"]
        rows.append(
            [
                figures["backend"],
                f"{bookings['generated']} ({bookings['revisions']} revisions)",
                str(bookings["stored_once"]),
                str(len(bookings["lost"])),
                str(len(bookings["duplicated"])),
                str(len(bookings["wrong_state"])),
                f"{len(flagged)} / {len(expected)}" + ("" if flagged == expected else " ✗"),
                str(figures["overbooked_nights"]),
                str(figures["ledger_mismatches"]),
                f"{figures['revisions_per_second']:.1f}",
                f"{figures['converge_seconds']:.1f}",
                str(figures["rate_limit_violations"]),
                str(sum(figures["ari_mismatches"].values())),
            ]
        )
        verdict = (
            "met"
            if not bookings["lost"]
            and not bookings["duplicated"]
            and not bookings["wrong_state"]
            and flagged == expected
            and not figures["ledger_mismatches"]
            and not figures["rate_limit_violations"]
            and not any(figures["ari_mismatches"].values())
            else "MISSED"
        )
        sold = figures["sold"]
        findings.append(
            f"{figures['backend']}: {bookings['generated']} bookings from {CHANNELS} channels "
            f"({sold['booked']} sold, {sold['modified']} extended, {sold['cancelled']} "
            f"cancelled, {sold['refused_sold_out']} tries refused as sold out on that channel); "
            f"{len(bookings['lost'])} lost, {len(bookings['duplicated'])} duplicated; "
            f"{len(flagged)} reservations flagged overbooked, {len(expected)} expected from the "
            f"applied order; {figures['overbooked_nights']} room-type nights oversold at the "
            f"end; {figures['revisions_applied']} revisions applied at "
            f"{figures['revisions_per_second']:.1f}/s; converged "
            f"{figures['converge_seconds']:.1f} s after the last sale; "
            f"{figures['rate_limit_violations']} rate-limit violations. Target (zero lost, "
            f"zero duplicated, flagged = expected, channels equal innsync): {verdict}."
        )
    table = Table(
        "Booking storm: 4 channels, 3 room types x 5 units, one contested week",
        [
            "database",
            "bookings (revisions)",
            "stored once",
            "lost",
            "duplicated",
            "wrong final state",
            "flagged overbooked / expected",
            "oversold nights at end",
            "ledger ≠ reservations",
            "revisions applied/s",
            "converge s",
            "limit violations",
            "ARI mismatches",
        ],
        rows,
    )
    return Outcome(
        sizes=(
            f"{CHANNELS} Channex simulator processes (one connection each, Channex's limit of "
            f"10 calls/min), 1 property of {ROOMS} room types x {UNITS} units; each channel "
            f"makes {attempts} tries (new stays of 1-3 nights in the same {WEEK} nights, "
            f"{MODIFY_SHARE:.0%} one-night extensions, {CANCEL_SHARE:.0%} cancellations), "
            f"selling only what its own availability shows; PostgreSQL: `innsync serve` + 1 "
            f"`innsync worker`; SQLite: `innsync serve`; seed {SEED}"
        ),
        tables=[table],
        findings=findings,
        data={"backends": measured},
        versions=versions,
    )

"""One hotel sold on several Channex simulators at once, and the checks that both sides agree.

Shared by ``booking_storm`` and ``chaos``. Each channel is its own simulator process
(``innsync simulate channex --seed N``: its background pump retries webhooks and releases
held-back ones) and its own innsync connection, provisioned and subscribed through innsync's
API as an operator would. The checks read only what each side shows: the simulator's
``/_sim/`` inspection and innsync's tables.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from innsync.channels.channex import ChannexAdapter, ChannexConfig
from innsync.connections import service as connections
from innsync.connections.models import Connection, RatePlanMapping, RoomTypeMapping
from innsync.connections.schemas import ConnectionCreate
from innsync.crypto import SecretBox
from innsync.db.engine import session_factory, transaction
from innsync.inbox.models import InboxItem
from innsync.inventory.calendar import write_ari
from innsync.inventory.models import InventoryLedgerDay
from innsync.inventory.schemas import AriWrite
from innsync.outbox.models import DirtyMark
from innsync.properties import service as properties
from innsync.properties.models import Property
from innsync.properties.schemas import PropertyCreate, RatePlanCreate, RoomTypeCreate
from innsync.reservations.models import Reservation, ReservationChange
from innsync.stay_dates import DateRange
from innsync.sync.desired import desired_availability, desired_rates, load_mappings
from innsync.tenants.service import create_tenant, issue_key
from innsync_bench.processes import INNSYNC, free_port, running

# The key `innsync simulate channex` accepts (SimulatorConfig's default).
SIMULATOR_API_KEY = "channex-sim-key"
WEBHOOK_SECRET = "bench-webhook-secret"  # noqa: S105  (loopback test value)
# The shortest horizon a property may have (properties.schemas.MIN_HORIZON_DAYS): the ARI
# comparison reads all of it back from every channel.
HORIZON_DAYS = 365
ARI_CLASSES = ("availability", "restrictions")
# channex.md §1.3: 10 calls per 60 s per property and endpoint class.
CHANNEX_LIMIT, CHANNEX_WINDOW_SECONDS = 10, 60.0


@dataclass
class Channel:
    """One simulator process and the innsync connection that sells the hotel on it."""

    index: int
    root: str
    connection_id: uuid.UUID
    property_id: str = ""
    # innsync room type id -> Channex room type id; innsync rate plan -> Channex rate plan.
    room_types: dict[uuid.UUID, str] = field(default_factory=dict)
    rate_plans: dict[uuid.UUID, str] = field(default_factory=dict)

    def get(self, path: str) -> Any:
        return httpx.get(f"{self.root}{path}", timeout=120).json()

    def post(self, path: str, body: dict[str, Any]) -> Any:
        response = httpx.post(f"{self.root}{path}", json=body, timeout=120)
        if response.status_code not in (200, 201):
            raise RuntimeError(f"simulator {self.index} refused {path}: {response.text[:300]}")
        return response.json()


@dataclass
class Site:
    """The innsync hotel: its ids, its admin API key, its units, and the channels selling it."""

    tenant_id: uuid.UUID
    property_id: uuid.UUID
    room_type_ids: list[uuid.UUID]
    rate_plan_ids: list[uuid.UUID]  # one per room type, in the same order
    units: int
    api_key: str
    channels: list[Channel]


@contextmanager
def simulators(workdir: Path, count: int, seed: int) -> Iterator[list[str]]:
    """``count`` simulator processes with seeds ``seed``, ``seed + 1``…; yields their roots.

    Distinct seeds give distinct ids, as separate Channex accounts would have.
    """
    with ExitStack() as stack:
        roots = []
        for index in range(count):
            port = free_port()
            root = f"http://127.0.0.1:{port}"
            command = [*INNSYNC, "simulate", "channex", "--port", str(port), "--seed"]
            stack.enter_context(
                running(
                    [*command, str(seed + index)],
                    workdir / f"simulator-{index}.log",
                    ready_url=f"{root}/_sim/faults",
                )
            )
            roots.append(root)
        yield roots


def create_site(
    engine: Engine,
    box: SecretBox,
    roots: list[str],
    *,
    rooms: int,
    units: int,
    connection_config: dict[str, Any],
) -> Site:
    """The hotel, priced over its horizon, with one Channex connection per simulator."""
    with transaction(session_factory(engine)) as session:
        tenant, _ = create_tenant(session, "Bench")
        prop = properties.create_property(
            session,
            tenant.id,
            PropertyCreate(name="Harbour", timezone="UTC", currency="EUR", horizon_days=365),
        )
        room_type_ids, plan_ids = [], []
        for room in range(rooms):
            room_type = properties.create_room_type(
                session,
                tenant.id,
                prop.id,
                RoomTypeCreate(
                    code=f"R{room}",
                    name=f"Room {room}",
                    sellable_units=units,
                    max_adults=2,
                    max_occupancy=2,
                    default_occupancy=2,
                ),
            )
            room_type_ids.append(room_type.id)
            plan_ids.append(
                properties.create_rate_plan(
                    session,
                    tenant.id,
                    prop.id,
                    RatePlanCreate(
                        room_type_id=room_type.id, code=f"R{room}-BAR", name=f"Room {room} BAR"
                    ),
                ).id
            )
        today = properties.property_today(prop, datetime.now(UTC))
        write_ari(
            session,
            tenant.id,
            prop.id,
            AriWrite.model_validate(
                {
                    "entries": [
                        {
                            "rate_plan_id": str(plan_id),
                            "date_from": today.isoformat(),
                            "date_to": (today + timedelta(days=HORIZON_DAYS - 2)).isoformat(),
                            "price": str(Decimal(90 + 20 * index)),
                            "min_stay_arrival": 1,
                        }
                        for index, plan_id in enumerate(plan_ids)
                    ]
                }
            ),
        )
        channels = []
        for index, root in enumerate(roots):
            connection = connections.create_connection(
                session,
                box,
                tenant.id,
                prop.id,
                ConnectionCreate(
                    channel="channex",
                    name=f"Channex {index}",
                    config={
                        "base_url": f"{root}/api/v1",
                        "api_key": SIMULATOR_API_KEY,
                        "webhook_secret": WEBHOOK_SECRET,
                        **connection_config,
                    },
                ),
            )
            channels.append(Channel(index, root, connection.id))
        api_key = issue_key(session, tenant.id, "bench", ["admin"]).secret
    return Site(tenant.id, prop.id, room_type_ids, plan_ids, units, api_key, channels)


def connect(site: Site, engine: Engine, innsync_url: str) -> None:
    """Provision every channel and subscribe its webhooks through innsync's API."""
    headers = {"authorization": f"Bearer {site.api_key}"}
    with httpx.Client(base_url=innsync_url, headers=headers, timeout=120) as api:
        for channel in site.channels:
            for step in ("provision", "webhooks/register"):
                answer = api.post(f"/api/v1/connections/{channel.connection_id}/{step}")
                if answer.status_code != 200:
                    raise RuntimeError(f"{step} of channel {channel.index}: {answer.text[:300]}")
                if step == "provision":
                    channel.property_id = answer.json()["remote_property_id"]
    with session_factory(engine)() as session:
        for channel in site.channels:
            channel.room_types = {
                row.room_type_id: row.channel_code
                for row in session.scalars(
                    select(RoomTypeMapping).where(
                        RoomTypeMapping.connection_id == channel.connection_id
                    )
                )
            }
            channel.rate_plans = {
                row.rate_plan_id: row.channel_code
                for row in session.scalars(
                    select(RatePlanMapping).where(
                        RatePlanMapping.connection_id == channel.connection_id
                    )
                )
            }


def pending_work(sessions: sessionmaker[Session]) -> dict[str, int]:
    """What innsync still has to do: dirty marks, inbox items not settled, acks not done."""
    with sessions() as session:
        marks = session.scalar(select(func.count()).select_from(DirtyMark)) or 0
        inbox = (
            session.scalar(
                select(func.count()).select_from(InboxItem).where(InboxItem.status == "pending")
            )
            or 0
        )
        acks = (
            session.scalar(
                select(func.count())
                .select_from(InboxItem)
                .where(InboxItem.ack_status.is_not(None), InboxItem.ack_status != "done")
            )
            or 0
        )
    return {"dirty_marks": int(marks), "inbox_pending": int(inbox), "acks_pending": int(acks)}


def waiting_items(sessions: sessionmaker[Session], limit: int = 5) -> list[str]:
    """The first pending inbox items, each as attempts, seconds until it is due and reason:
    what convergence is waiting for, when it waits."""
    now = datetime.now(UTC)
    with sessions() as session:
        items = session.scalars(
            select(InboxItem)
            .where(InboxItem.status == "pending")
            .order_by(InboxItem.id)
            .limit(limit)
        ).all()
        return [
            f"#{item.id} attempts {item.attempts}, due in "
            f"{(item.not_before - now).total_seconds() if item.not_before else 0:.0f} s: "
            f"{(item.reason or 'never tried')[:120]}"
            for item in items
        ]


# The checks.


@dataclass
class BookingCheck:
    """Every booking the simulators made, against innsync's reservations."""

    generated: int = 0
    revisions: int = 0
    unacked_revisions: int = 0
    stored_once: int = 0
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    wrong_state: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "generated": self.generated,
            "revisions": self.revisions,
            "unacked_revisions": self.unacked_revisions,
            "stored_once": self.stored_once,
            "lost": self.lost,
            "duplicated": self.duplicated,
            "wrong_state": self.wrong_state,
        }


def check_bookings(site: Site, sessions: sessionmaker[Session]) -> BookingCheck:
    """Each simulator booking is one reservation of its connection, in its latest state, and
    was created once (one ``created`` audit row); every revision was acknowledged."""
    check = BookingCheck()
    with sessions() as session:
        reservations = list(
            session.scalars(select(Reservation).where(Reservation.property_id == site.property_id))
        )
        created = Counter(
            session.scalars(
                select(ReservationChange.reservation_id).where(
                    ReservationChange.action == "created"
                )
            )
        )
    stored: dict[tuple[str, str], list[Reservation]] = defaultdict(list)
    for reservation in reservations:
        stored[(reservation.source, reservation.channel_booking_id or "")].append(reservation)
    for channel in site.channels:
        revisions = channel.get("/_sim/bookings")["data"]
        latest: dict[str, dict[str, Any]] = {}
        for revision in revisions:  # in the simulator's sequence: the last one is the latest
            latest[revision["booking_id"]] = revision
        check.revisions += len(revisions)
        check.unacked_revisions += sum(1 for r in revisions if r["acked_at"] is None)
        check.generated += len(latest)
        details = _booking_details(channel, latest)
        for booking_id, revision in latest.items():
            label = f"channel {channel.index} booking {booking_id}"
            found = stored.get((str(channel.connection_id), booking_id), [])
            if not found:
                check.lost.append(label)
                continue
            # A tombstone (cancellation seen first) has no `created` row; two would be a double.
            if len(found) > 1 or created[found[0].id] > 1:
                check.duplicated.append(
                    f"{label}: {len(found)} reservations, {created[found[0].id]} created rows"
                )
                continue
            check.stored_once += 1
            reservation = found[0]
            want_status = "cancelled" if revision["status"] == "cancelled" else "confirmed"
            arrival, departure = details[booking_id]
            if (reservation.status, reservation.arrival, reservation.departure) != (
                want_status,
                arrival,
                departure,
            ):
                check.wrong_state.append(
                    f"{label}: innsync {reservation.status} {reservation.arrival}.."
                    f"{reservation.departure}, channel {want_status} {arrival}..{departure}"
                )
    return check


def _booking_details(
    channel: Channel, latest: dict[str, dict[str, Any]]
) -> dict[str, tuple[date, date]]:
    """Arrival and departure of each booking's latest revision, read through the API."""
    found: dict[str, tuple[date, date]] = {}
    headers = {"user-api-key": SIMULATOR_API_KEY}
    with httpx.Client(base_url=f"{channel.root}/api/v1", headers=headers, timeout=60) as api:
        for booking_id, revision in latest.items():
            attributes = api.get(f"/booking_revisions/{revision['revision_id']}").json()["data"][
                "attributes"
            ]
            found[booking_id] = (
                date.fromisoformat(attributes["arrival_date"]),
                date.fromisoformat(attributes["departure_date"]),
            )
    return found


def check_ari(site: Site, sessions: sessionmaker[Session]) -> dict[str, int]:
    """Per channel, the dates (of each room type or plan) whose ARI differs from innsync's
    desired state, over the horizon from today."""
    mismatches: dict[str, int] = {}
    with sessions() as session:
        prop = session.get_one(Property, site.property_id)
        today = properties.property_today(prop, datetime.now(UTC))
        window = DateRange(today, today + timedelta(days=HORIZON_DAYS - 2))
        wanted = {}
        for channel in site.channels:
            connection = session.get_one(Connection, channel.connection_id)
            mappings = load_mappings(session, connection)
            wanted[channel.index] = (
                desired_availability(
                    session, mappings, {key: [window] for key in site.room_type_ids}
                ),
                desired_rates(session, mappings, {key: [window] for key in site.rate_plan_ids}),
            )

    async def read(channel: Channel) -> tuple[Any, Any]:
        async with httpx.AsyncClient(timeout=120) as http:
            adapter = ChannexAdapter(
                ChannexConfig(
                    base_url=f"{channel.root}/api/v1",
                    api_key=SIMULATOR_API_KEY,
                    property_id=channel.property_id,
                ),
                http,
            )
            availability, rates = wanted[channel.index]
            return (
                await adapter.read_availability(list(availability), window),
                await adapter.read_rates(list(rates), window),
            )

    for channel in site.channels:
        shown_availability, shown_rates = asyncio.run(read(channel))
        availability, rates = wanted[channel.index]
        differing = 0
        for code, days in availability.items():
            shown = shown_availability.get(code, {})
            differing += sum(1 for day, units in days.items() if shown.get(day) != units)
        for key, values in rates.items():
            shown = shown_rates.get(key, {})
            differing += sum(1 for day, value in values.items() if shown.get(day) != value)
        mismatches[f"channel {channel.index}"] = differing
    return mismatches


@dataclass
class LimitCheck:
    """ARI calls against Channex's limit, from each simulator's request log."""

    ari_calls: int = 0
    limit_429s: int = 0  # refused by the simulator's limiter: innsync went over the limit
    injected_429s: int = 0  # refused by fault injection before the limiter
    busiest_window: int = 0  # most accepted calls of one property and class in any 60 s
    log_full: bool = False

    @property
    def violations(self) -> int:
        return self.limit_429s + max(0, self.busiest_window - CHANNEX_LIMIT)


def check_limits(site: Site, since: datetime | None = None) -> LimitCheck:
    """Rate-limit violations. The simulator's gateway answers injected faults before any
    handler runs, so their log rows name no property; a 429 naming a property came from the
    limiter. Accepted calls are also counted per 60 s window by arrival time."""
    check = LimitCheck()
    for channel in site.channels:
        rows = channel.get("/_sim/requests")["data"]
        # `innsync simulate channex` keeps the newest 10,000 requests.
        check.log_full = check.log_full or len(rows) >= 10_000
        accepted: dict[tuple[str, str], list[float]] = defaultdict(list)
        for row in rows:
            at = datetime.fromisoformat(row["at"])
            if row["method"] != "POST" or row["endpoint_class"] not in ARI_CLASSES:
                continue
            if since is not None and at < since:
                continue
            check.ari_calls += 1
            if row["status"] == 429:
                if row["property_ids"]:
                    check.limit_429s += 1
                else:
                    check.injected_429s += 1
            elif row["property_ids"] and row["status"] == 200:
                for property_id in row["property_ids"]:
                    accepted[(property_id, row["endpoint_class"])].append(at.timestamp())
        for times in accepted.values():
            check.busiest_window = max(check.busiest_window, busiest_window(times))
    return check


def busiest_window(times: list[float]) -> int:
    """The most calls in any half-open window of 60 s."""
    ordered = sorted(times)
    busiest, first = 0, 0
    for last, at in enumerate(ordered):
        while ordered[first] <= at - CHANNEX_WINDOW_SECONDS:
            first += 1
        busiest = max(busiest, last - first + 1)
    return busiest


def revisions_per_second(sessions: sessionmaker[Session], site: Site) -> tuple[int, float]:
    """Revisions that changed a reservation, and their rate between the first and the last
    inbox item applied (``processed_at``)."""
    with sessions() as session:
        changes = (
            session.scalar(
                select(func.count())
                .select_from(ReservationChange)
                .join(Reservation, Reservation.id == ReservationChange.reservation_id)
                .where(
                    Reservation.property_id == site.property_id,
                    ReservationChange.origin.like("inbox:%"),
                )
            )
            or 0
        )
        first, last = session.execute(
            select(func.min(InboxItem.processed_at), func.max(InboxItem.processed_at)).where(
                InboxItem.status == "applied"
            )
        ).one()
    seconds = (last - first).total_seconds() if first and last else 0.0
    return int(changes), (changes / seconds if seconds > 0 else 0.0)


def overbooked_nights(sessions: sessionmaker[Session], site: Site) -> int:
    """Room-type nights of the final ledger where more units are sold than exist."""
    with sessions() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(InventoryLedgerDay)
                .where(
                    InventoryLedgerDay.room_type_id.in_(site.room_type_ids),
                    InventoryLedgerDay.sold > site.units,
                )
            )
            or 0
        )


async def control_call(
    http: httpx.AsyncClient, channel: Channel, path: str, body: dict[str, Any]
) -> dict[str, Any]:
    """A control-plane call making one revision; returns the revision's attributes."""
    response = await http.post(f"{channel.root}{path}", json=body)
    if response.status_code != 201:
        raise RuntimeError(f"simulator {channel.index} refused {path}: {response.text[:300]}")
    created: dict[str, Any] = response.json()["data"][0]["attributes"]
    return created


def unacknowledged(site: Site) -> int:
    """Booking revisions the simulators still hold unacknowledged, over every channel."""
    return sum(
        1
        for channel in site.channels
        for revision in channel.get("/_sim/bookings")["data"]
        if revision["acked_at"] is None
    )

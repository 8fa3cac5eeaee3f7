"""The demo's traffic: a PMS changing rates and taking direct bookings through innsync's API,
and OTAs booking, modifying and cancelling through the Channex simulator.

One event at a time, at random (seeded) intervals averaging ``rate`` events a second. An OTA
sells only what Channex shows as available, as a real one would. Every ``OVERBOOK_EVERY``
events the last unit of a night is sold on both sides at once — the PMS takes it through
innsync while an OTA takes it through Channex before innsync's availability 0 reaches it — so
innsync must flag the OTA booking as overbooked.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx

from innsync.demo.hotel import DemoHotel, DemoPlan, DemoRoom, property_today, writable_dates

# Events between two deliberate overbookings (one a minute at the default rate of one a second).
OVERBOOK_EVERY = 60
# How far ahead guests book, in days from today: most demand is within three months.
ARRIVAL_WINDOW_DAYS = 90
# The ranges the PMS re-prices or restricts start within this many days from today.
CHANGE_WINDOW_DAYS = 120
# The mix of the other events: (kind, weight).
EVENT_WEIGHTS = (
    ("rates", 30),
    ("restrictions", 15),
    ("ota_new", 25),
    ("ota_modify", 10),
    ("ota_cancel", 8),
    ("direct_new", 8),
    ("direct_cancel", 4),
)
GUESTS = (
    ("Ada", "Lovelace"),
    ("Grace", "Hopper"),
    ("Alan", "Turing"),
    ("Edsger", "Dijkstra"),
    ("Barbara", "Liskov"),
    ("Donald", "Knuth"),
    ("Margaret", "Hamilton"),
    ("Ken", "Thompson"),
)
OTAS = ("Booking.com", "Expedia", "Airbnb", "Agoda")


@dataclass
class OtaBooking:
    """A booking an OTA made on Channex, as the generator last changed it."""

    booking_id: str
    room: DemoRoom
    plan: DemoPlan
    arrival: date
    departure: date
    is_cancelled: bool = False


@dataclass
class Tally:
    """What the generator did, for the live summary and the final check."""

    events: int = 0
    rate_changes: int = 0
    restriction_changes: int = 0
    ota_new: int = 0
    ota_modified: int = 0
    ota_cancelled: int = 0
    ota_not_sold: int = 0  # Channex showed no room: the OTA did not sell it
    direct_new: int = 0
    direct_refused: int = 0  # innsync had no unit left: 409
    direct_cancelled: int = 0
    overbookings_caused: int = 0
    overbook_skipped: int = 0
    ota_blind: int = 0  # Channex's API was down (a demo outage): the OTA could not sell
    refused: list[str] = field(default_factory=list)  # unexpected refusals, for the report
    expected_overbooked: set[str] = field(default_factory=set)


class TrafficGenerator:
    """Drives both sides of the demo hotel until ``stop`` is set."""

    def __init__(
        self,
        hotel: DemoHotel,
        api: httpx.AsyncClient,
        sim: httpx.AsyncClient,
        *,
        rate: float,
        seed: int,
        overbook_every: int = OVERBOOK_EVERY,
    ) -> None:
        self.hotel = hotel
        self.api = api
        self.sim = sim
        self.rate = rate
        self.overbook_every = overbook_every
        self.random = random.Random(seed)  # noqa: S311  (demo traffic, not secrets)
        self.tally = Tally()
        self.ota: dict[str, OtaBooking] = {}
        self.direct: list[uuid.UUID] = []
        # Set while the demo's scheduled outage (demo/outage.py) has the channel answering
        # server errors: an OTA that cannot read availability then simply sells nothing.
        self.channel_outage = False

    def set_channel_outage(self, down: bool) -> None:
        self.channel_outage = down

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.random.expovariate(self.rate))
            if stop.is_set():
                return
            await self.step()

    async def step(self) -> None:
        """One event; a transport error is counted, not raised: the demo goes on."""
        self.tally.events += 1
        if self.tally.events % self.overbook_every == self.overbook_every // 2:
            kind = "overbook"
        else:
            kinds, weights = zip(*EVENT_WEIGHTS, strict=True)
            kind = self.random.choices(kinds, weights)[0]
        try:
            await getattr(self, f"_{kind}")()
        except httpx.HTTPError as exc:
            self._refused(f"{kind}: {type(exc).__name__}: {exc}")

    # The PMS side, through innsync's API.

    async def _rates(self) -> None:
        room = self.random.choice(self.hotel.rooms)
        base = room.plans[0].spec
        factor = Decimal(self.random.randint(80, 130)) / 100
        span = self._span(14)
        entry: dict[str, Any] = {"rate_plan_id": str(room.plans[0].id), **span}
        weeks_long = date.fromisoformat(span["date_to"]) - date.fromisoformat(span["date_from"])
        # A weekday filter needs a range long enough to hold those weekdays (else 422).
        if weeks_long >= timedelta(days=6) and self.random.random() < 0.3:
            entry["weekdays"] = ["fr", "sa"]
        if base.per_person_prices is not None:
            entry["occupancy_prices"] = {
                str(occupancy): _money(price * factor)
                for occupancy, price in base.per_person_prices.items()
            }
        else:
            entry["price"] = _money((base.price or Decimal(100)) * factor)
        if await self._write_ari(entry):
            self.tally.rate_changes += 1

    async def _restrictions(self) -> None:
        room = self.random.choice(self.hotel.rooms)
        plan = self.random.choice(room.plans)
        name = self.random.choice(plan.spec.own_restrictions())
        value: int | bool
        if name == "min_stay_arrival":
            value = self.random.choice((1, 1, 2, 3))
        elif name == "max_stay":
            value = self.random.choice((0, 0, 7, 14))
        elif name == "stop_sell":
            value = self.random.random() < 0.25
        else:
            value = self.random.random() < 0.4
        entry = {"rate_plan_id": str(plan.id), **self._span(7), name: value}
        if await self._write_ari(entry):
            self.tally.restriction_changes += 1

    async def _write_ari(self, entry: dict[str, Any]) -> bool:
        answer = await self.api.post(
            f"/properties/{self.hotel.property_id}/ari", json={"entries": [entry]}
        )
        if answer.status_code != 200:
            self._refused(f"ARI write {answer.status_code}: {answer.text[:300]}")
            return False
        return True

    async def _direct_new(self) -> None:
        room = self.random.choice(self.hotel.rooms)
        arrival, departure = self._stay()
        created = await self._direct_booking(room, arrival, departure)
        if created is not None:
            self.direct.append(created)

    async def _direct_booking(
        self, room: DemoRoom, arrival: date, departure: date
    ) -> uuid.UUID | None:
        first, last = self.random.choice(GUESTS)
        answer = await self.api.post(
            f"/properties/{self.hotel.property_id}/reservations",
            json={
                "arrival": arrival.isoformat(),
                "departure": departure.isoformat(),
                "rooms": [
                    {
                        "room_type_id": str(room.id),
                        "rate_plan_id": str(self.random.choice(room.plans).id),
                        "adults": self.random.randint(1, room.spec.max_adults),
                    }
                ],
                "guest": {"first_name": first, "last_name": last},
            },
        )
        if answer.status_code == 409:
            self.tally.direct_refused += 1
            return None
        if answer.status_code != 201:
            self._refused(f"direct booking {answer.status_code}: {answer.text[:300]}")
            return None
        self.tally.direct_new += 1
        return uuid.UUID(answer.json()["id"])

    async def _direct_cancel(self) -> None:
        if not self.direct:
            return
        reservation_id = self.direct.pop(self.random.randrange(len(self.direct)))
        answer = await self.api.post(f"/reservations/{reservation_id}/cancel")
        if answer.status_code != 200:
            self._refused(f"direct cancellation {answer.status_code}: {answer.text[:300]}")
            return
        self.tally.direct_cancelled += 1

    # The OTA side, through the simulator's control plane.

    async def _ota_new(self) -> None:
        room = self.random.choice(self.hotel.rooms)
        arrival, departure = self._stay()
        if not await self._channex_sells(room, arrival, departure):
            self.tally.ota_not_sold += 1
            return
        if await self._ota_booking(room, arrival, departure) is not None:
            self.tally.ota_new += 1

    async def _ota_booking(self, room: DemoRoom, arrival: date, departure: date) -> str | None:
        plan = self.random.choice(room.plans)
        first, last = self.random.choice(GUESTS)
        nights = (departure - arrival).days
        answer = await self.sim.post(
            "/_sim/bookings",
            json={
                "property_id": self.hotel.channex_property_id,
                "room_type_id": room.channex_id,
                "rate_plan_id": plan.channex_id,
                "arrival_date": arrival.isoformat(),
                "departure_date": departure.isoformat(),
                "adults": self.random.randint(1, room.spec.max_adults),
                "amount": str(nights * self.random.randint(90, 260)),
                "ota_name": self.random.choice(OTAS),
                "customer_name": first,
                "customer_surname": last,
            },
        )
        if answer.status_code != 201:
            self._refused(f"OTA booking {answer.status_code}: {answer.text[:300]}")
            return None
        booking_id = str(answer.json()["data"][0]["attributes"]["booking_id"])
        self.ota[booking_id] = OtaBooking(booking_id, room, plan, arrival, departure)
        return booking_id

    async def _ota_modify(self) -> None:
        booking = self._live_ota()
        if booking is None:
            return
        change: dict[str, Any]
        choice = self.random.random()
        if choice < 0.5:
            nights = (booking.departure - booking.arrival).days
            longer = nights == 1 or self.random.random() < 0.5
            departure = booking.departure + timedelta(days=1 if longer else -1)
            if longer and not await self._channex_sells(booking.room, booking.departure, departure):
                self.tally.ota_not_sold += 1
                return
            change = {"departure_date": departure.isoformat()}
        elif choice < 0.75:
            change = {"adults": self.random.randint(1, booking.room.spec.max_adults)}
        else:
            nights = (booking.departure - booking.arrival).days
            change = {"amount": str(nights * self.random.randint(90, 260))}
        answer = await self.sim.post(f"/_sim/bookings/{booking.booking_id}/modify", json=change)
        if answer.status_code != 201:
            self._refused(f"OTA modification {answer.status_code}: {answer.text[:300]}")
            return
        if "departure_date" in change:
            booking.departure = date.fromisoformat(change["departure_date"])
        self.tally.ota_modified += 1

    async def _ota_cancel(self) -> None:
        booking = self._live_ota()
        if booking is None:
            return
        answer = await self.sim.post(f"/_sim/bookings/{booking.booking_id}/cancel", json={})
        if answer.status_code != 201:
            self._refused(f"OTA cancellation {answer.status_code}: {answer.text[:300]}")
            return
        booking.is_cancelled = True
        self.tally.ota_cancelled += 1

    async def _channex_sells(self, room: DemoRoom, arrival: date, departure: date) -> bool:
        """Whether Channex shows a unit of ``room`` on every night of the stay."""
        answer = await self.sim.get(
            "/api/v1/availability",
            params={
                "filter[property_id]": self.hotel.channex_property_id,
                "filter[date][gte]": arrival.isoformat(),
                "filter[date][lte]": (departure - timedelta(days=1)).isoformat(),
            },
        )
        if answer.status_code >= 500 and self.channel_outage:
            self.tally.ota_blind += 1
            return False
        if answer.status_code != 200:
            self._refused(f"Channex availability read {answer.status_code}: {answer.text[:300]}")
            return False
        shown: dict[str, int] = answer.json()["data"].get(room.channex_id, {})
        nights = (departure - arrival).days
        return len(shown) == nights and all(units > 0 for units in shown.values())

    # Both sides at once.

    async def _overbook(self) -> None:
        """Leave one unit of a night, then sell it through innsync and through Channex."""
        room = self.random.choice(self.hotel.rooms)
        night = property_today() + timedelta(days=self.random.randint(20, ARRIVAL_WINDOW_DAYS))
        answer = await self.api.get(
            f"/properties/{self.hotel.property_id}/availability",
            params={"date_from": night.isoformat(), "date_to": night.isoformat()},
        )
        if answer.status_code != 200:
            self._refused(f"availability read {answer.status_code}: {answer.text[:300]}")
            return
        rows = answer.json()["room_types"]
        available = next(
            r["days"][0]["available"] for r in rows if r["room_type_id"] == str(room.id)
        )
        if available == 0:
            self.tally.overbook_skipped += 1
            return
        if available > 1:
            blocked = await self.api.post(
                f"/room-types/{room.id}/blocks",
                json={
                    "date_from": night.isoformat(),
                    "date_to": night.isoformat(),
                    "units": available - 1,
                    "kind": "maintenance",
                    "reason": "demo: one unit left, sold twice",
                },
            )
            if blocked.status_code != 201:
                self._refused(f"block {blocked.status_code}: {blocked.text[:300]}")
                return
        departure = night + timedelta(days=1)
        direct = await self._direct_booking(room, night, departure)
        if direct is None:
            # A channel booking took the unit first; no double sale this time.
            self.tally.overbook_skipped += 1
            return
        self.direct.append(direct)
        booking_id = await self._ota_booking(room, night, departure)
        if booking_id is not None:
            self.tally.ota_new += 1
            self.tally.overbookings_caused += 1
            self.tally.expected_overbooked.add(booking_id)

    # Choices.

    def _span(self, longest: int) -> dict[str, str]:
        today = property_today()
        _, last = writable_dates(today)
        first = today + timedelta(days=self.random.randint(0, CHANGE_WINDOW_DAYS))
        final = min(first + timedelta(days=self.random.randint(0, longest - 1)), last)
        return {"date_from": first.isoformat(), "date_to": final.isoformat()}

    def _stay(self) -> tuple[date, date]:
        arrival = property_today() + timedelta(days=self.random.randint(1, ARRIVAL_WINDOW_DAYS))
        nights = self.random.choices((1, 2, 3, 4, 5), (25, 30, 20, 15, 10))[0]
        return arrival, arrival + timedelta(days=nights)

    def _live_ota(self) -> OtaBooking | None:
        live = [booking for booking in self.ota.values() if not booking.is_cancelled]
        return self.random.choice(live) if live else None

    def _refused(self, what: str) -> None:
        self.tally.refused.append(what)


def _money(amount: Decimal) -> str:
    return str(amount.quantize(Decimal("1.00")))

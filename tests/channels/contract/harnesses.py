"""One harness per adapter for the channel contract suite (``test_contract.py``).

A harness owns an adapter and the channel behind it, and gives the suite what it cannot get from
the adapter itself: the channel's codes for two room types and their rate plans, a view of what
the channel holds that does not go through the adapter, a way to make the channel produce booking
revisions (with the webhook it sends for each), and switches for the failures the contract covers.

- ``FakeHarness``: ``FakeChannel`` in memory, with a manual clock.
- ``ChannexHarness``: ``ChannexAdapter`` against the in-process Channex simulator over
  ``httpx.ASGITransport``; the hotel is created through the simulator's public API, the webhooks
  are the ones the simulator really delivers (to an ``httpx.MockTransport``), and the control
  plane (``/_sim/...``) injects faults and bookings. Simulator and adapter share one fake clock.
- ``AiosellHarness``: ``AiosellAdapter`` against the in-process Aiosell simulator, the same way;
  its reservation pushes carry Basic auth, so the "secret header" is ``Authorization``.
- ``Beds24Harness``: ``Beds24Adapter`` against the in-process Beds24 simulator; its webhooks
  carry the custom header the operator configures (§2.8), and its pull shows each booking as it
  is now (``pull_shows_latest_only``).
- ``ExpediaHarness``: ``ExpediaAdapter`` against the in-process EQC simulator (AR, BR, BC);
  bookings are pulled and confirmed, never pushed.
- ``BookingComHarness``: ``BookingComAdapter`` against the in-process Booking.com simulator
  (OTA XML, token exchange); reservations are pulled, never pushed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol, TypeVar

import httpx
from pydantic import SecretStr

from innsync.channels.agoda import AgodaAdapter, AgodaConfig
from innsync.channels.agoda.reservations import revision_id as agoda_revision_id
from innsync.channels.aiosell import AiosellAdapter, AiosellConfig
from innsync.channels.aiosell.mapping import revision_id_of as aiosell_revision_id
from innsync.channels.beds24 import Beds24Adapter, Beds24Config
from innsync.channels.beds24.credits import CreditMeters
from innsync.channels.booking_com import BookingComAdapter, BookingComConfig
from innsync.channels.booking_com.reservations import Queue
from innsync.channels.booking_com.reservations import revision_id as booking_revision_id
from innsync.channels.channex import ChannexAdapter, ChannexConfig
from innsync.channels.contract import (
    AcknowledgesReservations,
    ChannelAdapter,
    PullsReservations,
    PushesAvailability,
    PushesRates,
    ReadsBackAri,
    ReceivesWebhooks,
    capabilities_of,
)
from innsync.channels.credentials import InMemoryAccountCredentials
from innsync.channels.expedia import ExpediaAdapter, ExpediaConfig
from innsync.channels.expedia.reservations import revision_id as expedia_revision_id
from innsync.channels.fake import CHANNEX_LIKE_LIMITS, FakeChannel, FakeChannelConfig
from innsync.channels.ical import IcalChannel, IcalConfig
from innsync.channels.revision_json import revision_to_bytes
from innsync.channels.types import (
    AvailabilityUpdate,
    BookedRoom,
    BookingRevision,
    GuestDetails,
    RatePlanKey,
)
from innsync.simulators import agoda as agoda_sim
from innsync.simulators import aiosell as aiosell_sim
from innsync.simulators import beds24 as beds24_sim
from innsync.simulators import booking_com as booking_sim
from innsync.simulators import expedia as expedia_sim
from innsync.simulators.agoda.config import SimulatorConfig as AgodaSimulatorConfig
from innsync.simulators.aiosell.config import SimulatorConfig as AiosellSimulatorConfig
from innsync.simulators.booking_com.config import SimulatorConfig as BookingSimulatorConfig
from innsync.simulators.channex import SimulatorConfig, create_app
from innsync.simulators.ical import app as ical_sim
from innsync.simulators.ical.config import SimulatorConfig as IcalSimulatorConfig
from innsync.stay_dates import DateRange

T = TypeVar("T")

# A Monday 09:00 UTC; the simulator's "today" (it refuses earlier stay dates, §1.5).
START = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)
TODAY = START.date()
WEBHOOK_SECRET = "contract-webhook-secret"


class ContractAdapter(
    ChannelAdapter,
    PushesAvailability,
    PushesRates,
    ReadsBackAri,
    PullsReservations,
    ReceivesWebhooks,
    AcknowledgesReservations,
    Protocol,
):
    """The capabilities the contract exercises; each test skips unless the adapter has its own."""


@dataclass(frozen=True)
class ProducedRevision:
    """A revision the channel made, and the webhook it sent (or would send) about it."""

    booking_id: str
    revision_id: str
    webhook_headers: dict[str, str]
    webhook_body: bytes


@dataclass(frozen=True)
class HeldRate:
    """The two rate fields the contract checks, as the channel itself holds them."""

    price: Decimal | None
    min_stay_arrival: int | None


class WallClock:
    """The clock both sides of a harness read; tests move it instead of sleeping."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def monotonic(self) -> float:
        return (self.now - START).total_seconds()

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class AdapterHarness(ABC):
    """An adapter, the channel behind it and the levers the contract suite pulls."""

    name: str
    adapter: ContractAdapter
    room_types: tuple[str, str]
    """The channel's codes of two room types."""
    rate_plans: tuple[RatePlanKey, RatePlanKey]
    """One per-room rate plan of each room type, as (room type code, rate plan code)."""
    secret_header: str
    """The header that carries the webhook secret."""
    today: date = TODAY
    entry_verdicts_reason: str | None = None
    """Why the channel gives one verdict per call instead of one per entry; None when it does."""
    pull_shows_latest_only: str | None = None
    """Why the channel's pull shows each booking only as it is now (no revision history), so a
    booking changed twice between pulls is pulled once; None when every revision is pulled."""
    webhook_fetches_current: str | None = None
    """Why a webhook only hints at a booking and parses to its state when read (the detail
    fetched at once), not to the change it announced; None when it carries its change."""
    dates_changes_when_read: str | None = None
    """Why the channel's changes carry no time of their own, so a change is dated when it is
    read and changes read together share a time; None when each change carries its time."""

    def __init__(self) -> None:
        self.clock = WallClock()

    @property
    def capabilities(self) -> frozenset[str]:
        return capabilities_of(self.adapter)

    def run(self, scenario: Callable[[], Awaitable[T]]) -> T:
        """Run one test's async scenario to its end."""
        return asyncio.run(_call(scenario))

    def advance(self, seconds: float) -> None:
        """Move the channel's (and the adapter's) time forward."""
        self.clock.advance(seconds)

    def close(self) -> None:  # noqa: B027  (most harnesses hold nothing to release)
        """Release what the harness opened."""

    @abstractmethod
    async def held_availability(self) -> dict[str, dict[date, int]]:
        """The availability the channel holds, read without the adapter."""

    @abstractmethod
    async def held_rate(self, plan: RatePlanKey, stay_date: date) -> HeldRate | None:
        """The price and arrival min stay the channel holds, read without the adapter."""

    @abstractmethod
    async def refused_room_type(self) -> str:
        """A room type code the channel will refuse, entry by entry."""

    @abstractmethod
    async def adapter_with_bad_credentials(self) -> ContractAdapter:
        """An adapter whose next call the channel refuses for its credentials."""

    @abstractmethod
    async def make_unavailable(self) -> float | None:
        """Make the channel refuse the next call as unavailable; return the expected retry-after."""

    @abstractmethod
    async def make_available(self) -> None:
        """Undo :meth:`make_unavailable`."""

    @abstractmethod
    async def book(self, room: int, arrival: date, departure: date) -> ProducedRevision:
        """Make the channel receive a new booking of ``room_types[room]``."""

    @abstractmethod
    async def modify(self, booking_id: str, departure: date) -> ProducedRevision:
        """Make the channel receive a modification moving the departure."""

    @abstractmethod
    async def cancel(self, booking_id: str) -> ProducedRevision:
        """Make the channel receive the booking's cancellation."""


async def _call(scenario: Callable[[], Awaitable[T]]) -> T:
    return await scenario()


class FakeHarness(AdapterHarness):
    """The in-memory fake channel; its feed and webhooks carry neutral revisions."""

    name = "fake"
    room_types = ("FK-TWIN", "FK-DBL")
    rate_plans = (("FK-TWIN", "FK-TWIN-BAR"), ("FK-DBL", "FK-DBL-BAR"))
    secret_header = "x-innsync-fake-secret"

    def __init__(self) -> None:
        super().__init__()
        config = FakeChannelConfig(
            limits=CHANNEX_LIKE_LIMITS, webhook_secret=SecretStr(WEBHOOK_SECRET)
        )
        self.channel = FakeChannel(config, clock=self.clock.monotonic)
        self.adapter = self.channel
        self._bookings: dict[str, BookingRevision] = {}
        self._revision_count = 0

    async def held_availability(self) -> dict[str, dict[date, int]]:
        return self.channel.availability_state()

    async def held_rate(self, plan: RatePlanKey, stay_date: date) -> HeldRate | None:
        values = self.channel.rates_state().get(plan, {}).get(stay_date)
        return None if values is None else HeldRate(values.price, values.min_stay_arrival)

    async def refused_room_type(self) -> str:
        code = "FK-UNKNOWN"

        def refuse(update: object) -> str | None:
            if isinstance(update, AvailabilityUpdate) and update.room_type_code == code:
                return f"unknown room type {code}"
            return None

        self.channel.reject_entries(refuse)
        return code

    async def adapter_with_bad_credentials(self) -> ContractAdapter:
        self.channel.fail_next(1, "auth")
        return self.channel

    async def make_unavailable(self) -> float | None:
        self.channel.fail_next(1, "unavailable", retry_after=7)
        return 7.0

    async def make_available(self) -> None:
        self.channel.clear_faults()

    async def book(self, room: int, arrival: date, departure: date) -> ProducedRevision:
        room_type, rate_plan = self.rate_plans[room]
        nights = DateRange(arrival, departure)
        revision = BookingRevision(
            channel_booking_id=f"FK-{1000 + len(self._bookings)}",
            revision_id="pending",
            status="new",
            arrival=arrival,
            departure=departure,
            rooms=(
                BookedRoom(
                    room_type,
                    rate_plan,
                    occupancy=2,
                    nightly_prices=tuple((night, Decimal("100.00")) for night in nights),
                ),
            ),
            guest=GuestDetails(name="Ada Lovelace", email="ada@example.com"),
            total_amount=Decimal("100.00") * nights.nights,
            currency="EUR",
            received_at=self.clock(),
        )
        return self._produce(revision)

    async def modify(self, booking_id: str, departure: date) -> ProducedRevision:
        latest = self._bookings[booking_id]
        nights = DateRange(latest.arrival, departure)
        rooms = tuple(
            dataclasses.replace(
                room, nightly_prices=tuple((night, Decimal("100.00")) for night in nights)
            )
            for room in latest.rooms
        )
        return self._produce(
            dataclasses.replace(
                latest,
                status="modified",
                departure=departure,
                rooms=rooms,
                total_amount=Decimal("100.00") * nights.nights,
            )
        )

    async def cancel(self, booking_id: str) -> ProducedRevision:
        return self._produce(dataclasses.replace(self._bookings[booking_id], status="cancelled"))

    def _produce(self, revision: BookingRevision) -> ProducedRevision:
        self._revision_count += 1
        revision = dataclasses.replace(
            revision,
            revision_id=f"{revision.channel_booking_id}-{self._revision_count}",
            received_at=self.clock(),
        )
        self._bookings[revision.channel_booking_id] = revision
        self.channel.publish(revision)
        return ProducedRevision(
            revision.channel_booking_id,
            revision.revision_id,
            {self.secret_header: WEBHOOK_SECRET},
            revision_to_bytes(revision),
        )


class _Deliveries:
    """The webhook endpoint the simulator posts to: keeps each raw request."""

    def __init__(self) -> None:
        self.received: list[httpx.Request] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.received.append(request)
        return httpx.Response(200)


class ChannexHarness(AdapterHarness):
    """``ChannexAdapter`` against the in-process Channex simulator."""

    name = "channex"
    secret_header = "x-innsync-webhook-secret"
    api_key = "contract-api-key"
    base_url = "http://channex.sim/api/v1"
    sim_url = "http://channex.sim/_sim"
    callback_url = "https://innsync.example/hooks/channex"

    def __init__(self) -> None:
        super().__init__()
        self.deliveries = _Deliveries()
        self.app = create_app(
            SimulatorConfig(
                api_keys=(self.api_key,),
                seed=5,
                clock=self.clock,
                sleep=_no_sleep,
                webhook_transport=httpx.MockTransport(self.deliveries.handle),
                pump_interval_seconds=None,
            )
        )
        # ASGITransport holds no connection or event loop, so one client serves every run.
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app))
        property_id, self.room_types, self.rate_plans = asyncio.run(self._create_hotel())
        self.config = ChannexConfig(
            base_url=self.base_url,
            api_key=SecretStr(self.api_key),
            property_id=property_id,
            webhook_secret=SecretStr(WEBHOOK_SECRET),
        )
        self.property_id = property_id
        self.adapter = ChannexAdapter(self.config, self.http, now=self.clock)
        asyncio.run(self.adapter.register_webhooks(self.callback_url))

    def close(self) -> None:
        asyncio.run(self.http.aclose())

    async def held_availability(self) -> dict[str, dict[date, int]]:
        held = (await self._ari())["availability"]
        return {
            code: {date.fromisoformat(day): units for day, units in days.items()}
            for code, days in held.items()
        }

    async def held_rate(self, plan: RatePlanKey, stay_date: date) -> HeldRate | None:
        days = (await self._ari())["restrictions"].get(plan[1], {})
        values = days.get(stay_date.isoformat())
        if values is None:
            return None
        price = values.get("rate")
        return HeldRate(None if price is None else Decimal(price), values.get("min_stay_arrival"))

    async def refused_room_type(self) -> str:
        # A well-formed id the simulator has never issued: Channex answers with a warning.
        return str(uuid.UUID(int=1, version=4))

    async def adapter_with_bad_credentials(self) -> ContractAdapter:
        config = self.config.model_copy(update={"api_key": SecretStr("not-the-key")})
        return ChannexAdapter(config, self.http, now=self.clock)

    async def make_unavailable(self) -> float | None:
        await self._sim("POST", "/faults", {"too_many_requests_rate": 1.0})
        # Channex sends no Retry-After; the adapter pauses a minute, as §1.3 advises.
        return 60.0

    async def make_available(self) -> None:
        await self._sim("DELETE", "/faults")

    async def book(self, room: int, arrival: date, departure: date) -> ProducedRevision:
        room_type, rate_plan = self.rate_plans[room]
        body = {
            "property_id": self.property_id,
            "room_type_id": room_type,
            "rate_plan_id": rate_plan,
            "arrival_date": arrival.isoformat(),
            "departure_date": departure.isoformat(),
        }
        return self._produced(await self._sim("POST", "/bookings", body))

    async def modify(self, booking_id: str, departure: date) -> ProducedRevision:
        change = {"departure_date": departure.isoformat()}
        return self._produced(await self._sim("POST", f"/bookings/{booking_id}/modify", change))

    async def cancel(self, booking_id: str) -> ProducedRevision:
        return self._produced(await self._sim("POST", f"/bookings/{booking_id}/cancel", {}))

    def _produced(self, answer: Any) -> ProducedRevision:
        (revision,) = answer["data"]
        revision_id = revision["id"]
        (webhook,) = (
            request
            for request in self.deliveries.received
            if json.loads(request.content)["event"] == "booking"
            and json.loads(request.content)["payload"]["revision_id"] == revision_id
        )
        return ProducedRevision(
            revision["attributes"]["booking_id"],
            revision_id,
            dict(webhook.headers),
            webhook.content,
        )

    async def _ari(self) -> dict[str, Any]:
        held: dict[str, Any] = (await self._sim("GET", "/ari"))["data"][self.property_id]
        return held

    async def _sim(self, method: str, path: str, body: Any = None) -> Any:
        response = await self.http.request(method, self.sim_url + path, json=body)
        response.raise_for_status()
        return response.json()

    async def _api(self, path: str, wrapper: str, fields: dict[str, Any]) -> str:
        """Create an entity through the public API, as provisioning would; return its id."""
        response = await self.http.post(
            self.base_url + path,
            json={wrapper: fields},
            headers={"user-api-key": self.api_key},
        )
        if response.status_code != 201:
            raise RuntimeError(f"the simulator refused {path}: {response.text}")
        entity_id: str = response.json()["data"]["id"]
        return entity_id

    async def _create_hotel(
        self,
    ) -> tuple[str, tuple[str, str], tuple[RatePlanKey, RatePlanKey]]:
        property_id = await self._api(
            "/properties", "property", {"title": "Contract Hotel", "currency": "EUR"}
        )
        plans: list[RatePlanKey] = []
        for title in ("Twin", "Double"):
            room_type = await self._api(
                "/room_types",
                "room_type",
                {
                    "property_id": property_id,
                    "title": title,
                    "count_of_rooms": 8,
                    "occ_adults": 2,
                    "occ_children": 0,
                    "occ_infants": 0,
                    "default_occupancy": 2,
                },
            )
            rate_plan = await self._api(
                "/rate_plans",
                "rate_plan",
                {
                    "property_id": property_id,
                    "room_type_id": room_type,
                    "title": f"{title} BAR",
                    "options": [{"occupancy": 2, "is_primary": True, "rate": 10000}],
                },
            )
            plans.append((room_type, rate_plan))
        return property_id, (plans[0][0], plans[1][0]), (plans[0], plans[1])


async def _no_sleep(seconds: float) -> None:
    """The simulator's injected sleep: latency faults cost no real time."""
    del seconds


class AiosellHarness(AdapterHarness):
    """``AiosellAdapter`` against the in-process Aiosell simulator.

    The simulator holds its default mapping (hotel ``SANDBOX-PMS``, rooms ``EXECUTIVE`` and
    ``SUITE``); reservations are made through its control plane and their pushes (§1.10, Basic
    auth per §1.3) are delivered to an ``httpx.MockTransport``. Its 30 updates per second limit
    (§1.13) is switched on so the budget behaviour is the channel's, not the adapter's.
    """

    name = "aiosell"
    secret_header = "authorization"
    hotel_code = "SANDBOX-PMS"
    partner = "sample-pms"
    username = "sample-pms"
    password = "aiosell-sim-password"
    webhook_user = "innsync"
    base_url = "http://aiosell.sim/api/v2/cm"
    sim_url = "http://aiosell.sim/_sim"
    room_types = ("EXECUTIVE", "SUITE")
    rate_plans = (("EXECUTIVE", "EXECUTIVE-D-101"), ("SUITE", "SUITE-D-101"))
    entry_verdicts_reason = "Aiosell answers each call with one success/message verdict (§1.4)"

    pull_shows_latest_only = "§1.9 fetch returns each reservation's latest state, not its revisions"
    dates_changes_when_read = "§1.10 modify and cancel pushes carry no time; bookedOn dates a book"

    def __init__(self) -> None:
        super().__init__()
        self.deliveries = _Deliveries()
        self.app = aiosell_sim.create_app(
            AiosellSimulatorConfig(
                partner=self.partner,
                username=self.username,
                password=self.password,
                seed=5,
                clock=self.clock,
                sleep=_no_sleep,
                webhook_url="https://innsync.example/hooks/aiosell",
                webhook_username=self.webhook_user,
                webhook_password=WEBHOOK_SECRET,
                webhook_transport=httpx.MockTransport(self.deliveries.handle),
                updates_per_second=30,
                pump_interval_seconds=None,
            )
        )
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app))
        self.config = AiosellConfig(
            base_url=self.base_url,
            partner=self.partner,
            hotel_code=self.hotel_code,
            username=self.username,
            password=SecretStr(self.password),
            currency="INR",
            # The simulator writes bookedOn from its UTC clock; the notes name no zone (§1.2).
            timezone="UTC",
            webhook_username=self.webhook_user,
            webhook_password=SecretStr(WEBHOOK_SECRET),
        )
        self.adapter = AiosellAdapter(self.config, self.http, now=self.clock)  # type: ignore[assignment]

    def close(self) -> None:
        asyncio.run(self.http.aclose())

    async def held_availability(self) -> dict[str, dict[date, int]]:
        held = (await self._ari()).get("inventory", {})
        return {
            code: {date.fromisoformat(day): units for day, units in days.items()}
            for code, days in held.items()
        }

    async def held_rate(self, plan: RatePlanKey, stay_date: date) -> HeldRate | None:
        held = await self._ari()
        room, code = plan
        day = stay_date.isoformat()
        price = held.get("rates", {}).get(room, {}).get(code, {}).get(day)
        restrictions = held.get("rate_restrictions", {}).get(room, {}).get(code, {}).get(day)
        if price is None and restrictions is None:
            return None
        return HeldRate(
            None if price is None else Decimal(str(price)).quantize(Decimal("0.01")),
            None if restrictions is None else restrictions.get("minimumStayArrival"),
        )

    async def refused_room_type(self) -> str:
        return "NOT-MAPPED"

    async def adapter_with_bad_credentials(self) -> ContractAdapter:
        config = self.config.model_copy(update={"password": SecretStr("not-the-password")})
        return AiosellAdapter(config, self.http, now=self.clock)  # type: ignore[return-value]

    async def make_unavailable(self) -> float | None:
        await self._sim("POST", "/faults", {"too_many_requests_rate": 1.0})
        # The simulator sends no Retry-After; the adapter pauses one second (§1.13, 30/s).
        return 1.0

    async def make_available(self) -> None:
        await self._sim("DELETE", "/faults")

    async def book(self, room: int, arrival: date, departure: date) -> ProducedRevision:
        room_code, rateplan_code = self.rate_plans[room]
        body = {
            "hotel_code": self.hotel_code,
            "room_code": room_code,
            "rateplan_code": rateplan_code,
            "checkin": arrival.isoformat(),
            "nights": (departure - arrival).days,
        }
        return self._produced(await self._sim("POST", "/reservations", body))

    async def modify(self, booking_id: str, departure: date) -> ProducedRevision:
        (latest,) = (
            reservation
            for reservation in (await self._sim("GET", "/reservations"))["data"]
            if str(reservation["bookingId"]) == booking_id
        )
        nights = (departure - date.fromisoformat(latest["checkin"])).days
        answer = await self._sim("POST", f"/reservations/{booking_id}/modify", {"nights": nights})
        return self._produced(answer)

    async def cancel(self, booking_id: str) -> ProducedRevision:
        return self._produced(await self._sim("POST", f"/reservations/{booking_id}/cancel", {}))

    def _produced(self, answer: Any) -> ProducedRevision:
        (reservation,) = answer["data"]
        booking_id = str(reservation["bookingId"])
        webhook = self.deliveries.received[-1]
        pushed = json.loads(webhook.content)
        assert pushed["bookingId"] == reservation["bookingId"]
        # Aiosell names no revision: the adapter's id is a digest of the pushed content.
        return ProducedRevision(
            booking_id,
            aiosell_revision_id(booking_id, pushed),
            dict(webhook.headers),
            webhook.content,
        )

    async def _ari(self) -> dict[str, Any]:
        held: dict[str, Any] = (await self._sim("GET", "/ari"))["data"].get(self.hotel_code, {})
        return held

    async def _sim(self, method: str, path: str, body: Any = None) -> Any:
        response = await self.http.request(method, self.sim_url + path, json=body)
        response.raise_for_status()
        return response.json()


class Beds24Harness(AdapterHarness):
    """``Beds24Adapter`` against the in-process Beds24 simulator.

    The simulator's default account holds property 101 with rooms 201 and 202; a rate plan is a
    price slot (§2.6). The harness takes a token and then lets the credit window (§2.3) pass,
    so each test starts with the account's whole budget.
    """

    name = "beds24"
    secret_header = "x-innsync-webhook-secret"
    base_url = "http://beds24.sim/v2"
    sim_url = "http://beds24.sim/_sim"
    room_types = ("201", "202")
    rate_plans = (("201", "price1"), ("202", "price1"))
    pull_shows_latest_only = (
        "Beds24 keeps no revision history: GET /bookings?modifiedFrom shows each booking as it "
        "is now (§2.5); webhooks carry every change (§2.8)"
    )

    def __init__(self) -> None:
        super().__init__()
        self.deliveries = _Deliveries()
        self.app = beds24_sim.create_app(
            beds24_sim.SimulatorConfig(
                seed=5,
                clock=self.clock,
                sleep=_no_sleep,
                webhook_url="https://innsync.example/hooks/beds24",
                webhook_custom_header=f"{self.secret_header}: {WEBHOOK_SECRET}",
                webhook_delay_seconds=0.0,
                webhook_transport=httpx.MockTransport(self.deliveries.handle),
                pump_interval_seconds=None,
            )
        )
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app))
        self.meters = CreditMeters()
        self.config = Beds24Config(
            base_url=self.base_url,
            refresh_token=SecretStr("sim-refresh-token"),
            property_id=101,
            currency="EUR",
            webhook_header=self.secret_header,
            webhook_secret=SecretStr(WEBHOOK_SECRET),
        )
        self.adapter = self._adapter(self.config)
        asyncio.run(self.adapter.test_connection())
        self.clock.advance(300)  # §2.3: a fresh credit window

    def _adapter(self, config: Beds24Config) -> ContractAdapter:
        adapter = Beds24Adapter(config, self.http, now=self.clock, meters=self.meters)
        return adapter  # type: ignore[return-value]

    def close(self) -> None:
        asyncio.run(self.http.aclose())

    async def held_availability(self) -> dict[str, dict[date, int]]:
        held = (await self._sim("GET", "/calendar"))["data"]
        return {
            room: {
                date.fromisoformat(day): fields["numAvail"]
                for day, fields in days.items()
                if "numAvail" in fields
            }
            for room, days in held.items()
        }

    async def held_rate(self, plan: RatePlanKey, stay_date: date) -> HeldRate | None:
        room, slot = plan
        held = (await self._sim("GET", "/calendar"))["data"].get(room, {})
        fields = held.get(stay_date.isoformat())
        if fields is None:
            return None
        price = fields.get(slot)
        return HeldRate(
            None if price is None else Decimal(str(price)).quantize(Decimal("0.01")),
            fields.get("minStay"),
        )

    async def refused_room_type(self) -> str:
        return "999999"  # a roomId the account does not have

    async def adapter_with_bad_credentials(self) -> ContractAdapter:
        return self._adapter(
            self.config.model_copy(update={"refresh_token": SecretStr("not-the-token")})
        )

    async def make_unavailable(self) -> float | None:
        await self._sim("POST", "/faults", {"too_many_requests_rate": 1.0})
        # §2.3: a 429 has no Retry-After; the adapter waits the x-five-min-limit-resets-in the
        # answer carries: the whole window, as the harness began a fresh one.
        return 300.0

    async def make_available(self) -> None:
        await self._sim("DELETE", "/faults")

    async def book(self, room: int, arrival: date, departure: date) -> ProducedRevision:
        body = {
            "roomId": int(self.room_types[room]),
            "arrival": arrival.isoformat(),
            "departure": departure.isoformat(),
        }
        return self._produced(await self._sim("POST", "/bookings", body))

    async def modify(self, booking_id: str, departure: date) -> ProducedRevision:
        change = {"departure": departure.isoformat()}
        return self._produced(await self._sim("POST", f"/bookings/{booking_id}/modify", change))

    async def cancel(self, booking_id: str) -> ProducedRevision:
        return self._produced(await self._sim("POST", f"/bookings/{booking_id}/cancel", {}))

    def _produced(self, answer: Any) -> ProducedRevision:
        (booking,) = answer["data"]
        webhook = self.deliveries.received[-1]
        assert json.loads(webhook.content)["booking"]["id"] == booking["id"]
        # A revision is the booking in one state: its id, modified time and status (§2.5).
        revision_id = f"{booking['id']}@{booking['modifiedTime']}#{booking['status']}"
        return ProducedRevision(
            str(booking["id"]), revision_id, dict(webhook.headers), webhook.content
        )

    async def _sim(self, method: str, path: str, body: Any = None) -> Any:
        response = await self.http.request(method, self.sim_url + path, json=body)
        response.raise_for_status()
        return response.json()


class BookingComHarness(AdapterHarness):
    """``BookingComAdapter`` against the in-process Booking.com simulator (OTA XML).

    The simulator holds its default hotel (``1234567``, three rooms with two rate plans each,
    ``9001`` to ``9006``). Booking.com never pushes reservations (§3.1), so there are no webhooks: a
    produced revision carries none, and the webhook tests are skipped for it (KNOWN_GAPS).
    The adapter gets its own token budget, so tests never share the process-wide one.
    """

    name = "booking_com"
    secret_header = "authorization"
    hotel_id = "1234567"
    client_id = "contract-client"
    client_secret = "contract-client-secret"
    sim_url = "http://booking.sim/_sim"
    room_types = ("123456701", "123456702")
    rate_plans = (("123456701", "9001"), ("123456702", "9003"))

    def __init__(self) -> None:
        super().__init__()
        self.app = booking_sim.create_app(
            BookingSimulatorConfig(
                client_id=self.client_id,
                client_secret=self.client_secret,
                seed=5,
                clock=self.clock,
                sleep=_no_sleep,
                pump_interval_seconds=None,
            )
        )
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app))
        self.config = BookingComConfig(
            hotel_id=self.hotel_id,
            client_id=self.client_id,
            client_secret=SecretStr(self.client_secret),
            auth_url="http://booking.sim/token-based-authentication/exchange",
            supply_url="http://booking.sim",
            reservations_url="http://booking.sim",
            # The simulator's clock is UTC 09:00; Amsterdam is the same calendar day.
            target="Test",
        )
        self.adapter = self._adapter(self.config)

    def _adapter(self, config: BookingComConfig) -> ContractAdapter:
        adapter = BookingComAdapter(
            config, self.http, now=self.clock, accounts=InMemoryAccountCredentials()
        )
        return adapter  # type: ignore[return-value]

    def close(self) -> None:
        asyncio.run(self.http.aclose())

    async def held_availability(self) -> dict[str, dict[date, int]]:
        held = (await self._ari()).get("availability", {})
        return {
            code: {date.fromisoformat(day): units for day, units in days.items()}
            for code, days in held.items()
        }

    async def held_rate(self, plan: RatePlanKey, stay_date: date) -> HeldRate | None:
        held = await self._ari()
        room, rate = plan
        day = stay_date.isoformat()
        amounts = held.get("prices", {}).get(room, {}).get(rate, {}).get(day)
        restrictions = held.get("restrictions", {}).get(room, {}).get(rate, {}).get(day)
        if amounts is None and restrictions is None:
            return None
        price = None if amounts is None else amounts.get("default")
        return HeldRate(
            None if price is None else Decimal(price).quantize(Decimal("0.01")),
            None if restrictions is None else restrictions.get("min_los"),
        )

    async def refused_room_type(self) -> str:
        return "999999999"

    async def adapter_with_bad_credentials(self) -> ContractAdapter:
        config = self.config.model_copy(update={"client_secret": SecretStr("not-the-secret")})
        return self._adapter(config)

    async def make_unavailable(self) -> float | None:
        await self._sim("POST", "/faults", {"too_many_requests_rate": 1.0})
        # §3.1 documents no Retry-After; the adapter waits out its declared one-minute window.
        return 60.0

    async def make_available(self) -> None:
        await self._sim("DELETE", "/faults")

    async def book(self, room: int, arrival: date, departure: date) -> ProducedRevision:
        room_id, rate_id = self.rate_plans[room]
        body = {
            "hotel_id": self.hotel_id,
            "room_id": room_id,
            "rate_id": rate_id,
            "arrival": arrival.isoformat(),
            "departure": departure.isoformat(),
        }
        return self._produced("new", await self._sim("POST", "/reservations", body))

    async def modify(self, booking_id: str, departure: date) -> ProducedRevision:
        change = {"departure": departure.isoformat()}
        answer = await self._sim("POST", f"/reservations/{booking_id}/modify", change)
        return self._produced("modify", answer)

    async def cancel(self, booking_id: str) -> ProducedRevision:
        answer = await self._sim("POST", f"/reservations/{booking_id}/cancel", {})
        return self._produced("modify", answer)

    def _produced(self, queue: Queue, answer: Any) -> ProducedRevision:
        (entry,) = answer["data"]
        reservation_id = entry["reservation_id"]
        modified = datetime.fromisoformat(entry["modified_at"])
        return ProducedRevision(
            reservation_id, booking_revision_id(queue, reservation_id, modified), {}, b""
        )

    async def _ari(self) -> dict[str, Any]:
        held: dict[str, Any] = (await self._sim("GET", "/ari"))["data"].get(self.hotel_id, {})
        return held

    async def _sim(self, method: str, path: str, body: Any = None) -> Any:
        response = await self.http.request(method, self.sim_url + path, json=body)
        response.raise_for_status()
        return response.json()


class AgodaHarness(AdapterHarness):
    """``AgodaAdapter`` against the in-process Agoda simulator (YCS5 XML, §3.3).

    Agoda's webhook is the BookingHint: the harness writes the hint Agoda would push for each
    change, and the adapter fetches the booking's detail when it parses one.
    """

    name = "agoda"
    api_key = "contract-agoda-key"
    hint_secret = "contract-hint-secret"
    secret_header = "x-agoda-hint-secret"
    property_id = "226110"
    sim_url = "http://agoda.sim/_sim"
    room_types = ("8179851", "8179852")
    rate_plans = (("8179851", "937901"), ("8179852", "937903"))
    pull_shows_latest_only = "Agoda keeps one state per booking: the list shows it as now (§3.3)"
    webhook_fetches_current = (
        "a BookingHint names the booking only; its detail is fetched when it is read (§3.3)"
    )

    def __init__(self) -> None:
        super().__init__()
        self.app = agoda_sim.create_app(
            AgodaSimulatorConfig(
                api_key=self.api_key,
                seed=6,
                clock=self.clock,
                sleep=_no_sleep,
                pump_interval_seconds=None,
            )
        )
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app))
        self.config = AgodaConfig(
            property_id=self.property_id,
            api_key=SecretStr(self.api_key),
            base_url="http://agoda.sim",
            hint_secret=SecretStr(self.hint_secret),
        )
        self.adapter = self._adapter(self.config)

    def _adapter(self, config: AgodaConfig) -> ContractAdapter:
        return AgodaAdapter(config, self.http, now=self.clock)  # type: ignore[return-value]

    def close(self) -> None:
        asyncio.run(self.http.aclose())

    async def held_availability(self) -> dict[str, dict[date, int]]:
        held = (await self._ari()).get("availability", {})
        return {
            code: {date.fromisoformat(day): units for day, units in days.items()}
            for code, days in held.items()
        }

    async def held_rate(self, plan: RatePlanKey, stay_date: date) -> HeldRate | None:
        held = await self._ari()
        room, rate = plan
        day = stay_date.isoformat()
        amounts = held.get("prices", {}).get(room, {}).get(rate, {}).get(day)
        restrictions = held.get("restrictions", {}).get(room, {}).get(rate, {}).get(day)
        if amounts is None and restrictions is None:
            return None
        price = None if amounts is None else amounts.get("room")
        return HeldRate(
            None if price is None else Decimal(price),
            None if restrictions is None else restrictions.get("min_los"),
        )

    async def refused_room_type(self) -> str:
        return "9999999"

    async def adapter_with_bad_credentials(self) -> ContractAdapter:
        return self._adapter(self.config.model_copy(update={"api_key": SecretStr("wrong")}))

    async def make_unavailable(self) -> float | None:
        await self._sim("POST", "/faults", {"too_many_requests_rate": 1.0})
        # §3.3 documents no Retry-After; the adapter waits out its declared one-minute window.
        return 60.0

    async def make_available(self) -> None:
        await self._sim("DELETE", "/faults")

    async def book(self, room: int, arrival: date, departure: date) -> ProducedRevision:
        room_id, rateplan_id = self.rate_plans[room]
        body = {
            "property_id": self.property_id,
            "room_id": room_id,
            "rateplan_id": rateplan_id,
            "arrival": arrival.isoformat(),
            "departure": departure.isoformat(),
        }
        return self._produced(await self._sim("POST", "/bookings", body))

    async def modify(self, booking_id: str, departure: date) -> ProducedRevision:
        change = {"departure": departure.isoformat()}
        return self._produced(await self._sim("POST", f"/bookings/{booking_id}/amend", change))

    async def cancel(self, booking_id: str) -> ProducedRevision:
        return self._produced(await self._sim("POST", f"/bookings/{booking_id}/cancel", {}))

    def _produced(self, answer: Any) -> ProducedRevision:
        booking = answer["data"]
        booking_id = booking["booking_id"]
        last_action = datetime.fromisoformat(booking["last_action"])
        hint = (
            f'<request timestamp="1"><property id="{self.property_id}"><bookings>'
            f'<booking booking_id="{booking_id}" status="{booking["status"]}"/>'
            "</bookings></property></request>"
        ).encode()
        return ProducedRevision(
            booking_id,
            agoda_revision_id(booking_id, last_action),
            {self.secret_header: self.hint_secret, "content-type": "application/xml"},
            hint,
        )

    async def _ari(self) -> dict[str, Any]:
        held: dict[str, Any] = (await self._sim("GET", "/ari"))["data"].get(self.property_id, {})
        return held

    async def _sim(self, method: str, path: str, body: Any = None) -> Any:
        response = await self.http.request(method, self.sim_url + path, json=body)
        response.raise_for_status()
        return response.json()


class ExpediaHarness(AdapterHarness):
    """``ExpediaAdapter`` against the in-process EQC simulator (AR, BR, BC).

    The simulator's hotel 211 (per-day pricing, two room types with three rate plans each).
    EQC never pushes bookings, so there are no webhooks (KNOWN_GAPS), and it refuses an AR
    message whole, so one refused room type refuses the entries sent with it.
    """

    name = "expedia"
    secret_header = "authorization"
    hotel_id = "211"
    sim_url = "http://eqc.sim/_sim"
    room_types = ("20000", "23000")
    rate_plans = (("20000", "21000"), ("23000", "24000"))
    entry_verdicts_reason = "EQC answers one Success or Error per AR message (§3.2)"

    def __init__(self) -> None:
        super().__init__()
        self.app = expedia_sim.create_app(
            expedia_sim.SimulatorConfig(
                seed=5, clock=self.clock, sleep=_no_sleep, pump_interval_seconds=None
            )
        )
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app))
        self.config = ExpediaConfig(
            hotel_id=self.hotel_id,
            username="contract",
            password=SecretStr("ECLPASS"),
            ar_url="http://eqc.sim/connect/ar",
            br_url="http://eqc.sim/connect/br",
            bc_url="http://eqc.sim/connect/bc",
            parr_url="http://eqc.sim/connect/parr",
        )
        self.adapter = self._adapter(self.config)

    def _adapter(self, config: ExpediaConfig) -> ContractAdapter:
        adapter = ExpediaAdapter(config, self.http, now=self.clock)
        return adapter  # type: ignore[return-value]

    def close(self) -> None:
        asyncio.run(self.http.aclose())

    async def held_availability(self) -> dict[str, dict[date, int]]:
        rooms: dict[str, dict[str, Any]] = (await self._ari())["rooms"]
        return {
            room: {
                date.fromisoformat(day): fields["inventory"]
                for day, fields in days.items()
                if "inventory" in fields
            }
            for room, days in rooms.items()
        }

    async def held_rate(self, plan: RatePlanKey, stay_date: date) -> HeldRate | None:
        room, rate = plan
        held = (await self._ari())["rates"].get(f"{room}/{rate}", {}).get(stay_date.isoformat())
        if held is None:
            return None
        price = held.get("rate")
        return HeldRate(
            None if price is None else Decimal(price).quantize(Decimal("0.01")),
            held.get("minLOS"),
        )

    async def refused_room_type(self) -> str:
        return "99999"

    async def adapter_with_bad_credentials(self) -> ContractAdapter:
        return self._adapter(self.config.model_copy(update={"password": SecretStr("wrong-pw")}))

    async def make_unavailable(self) -> float | None:
        await self._sim("POST", "/faults", {"too_many_requests_rate": 1.0})
        # §3.2 documents no Retry-After; the adapter waits a minute.
        return 60.0

    async def make_available(self) -> None:
        await self._sim("DELETE", "/faults")

    async def book(self, room: int, arrival: date, departure: date) -> ProducedRevision:
        room_id, rate_id = self.rate_plans[room]
        body = {
            "hotel_id": self.hotel_id,
            "room_id": room_id,
            "rate_id": rate_id,
            "arrival": arrival.isoformat(),
            "nights": (departure - arrival).days,
        }
        (made,) = (await self._sim("POST", "/bookings", body))["data"]
        return self._produced(made)

    async def modify(self, booking_id: str, departure: date) -> ProducedRevision:
        change = {"departure": departure.isoformat()}
        return self._produced(await self._sim("POST", f"/bookings/{booking_id}/modify", change))

    async def cancel(self, booking_id: str) -> ProducedRevision:
        return self._produced(await self._sim("POST", f"/bookings/{booking_id}/cancel", {}))

    def _produced(self, booking: Any) -> ProducedRevision:
        latest = booking["transactions"][-1]
        created = datetime.fromisoformat(latest["created_at"]).strftime("%Y-%m-%dT%H:%M:%SZ")
        revision = expedia_revision_id(booking["booking_id"], latest["type"], created)
        return ProducedRevision(booking["booking_id"], revision, {}, b"")

    async def _ari(self) -> dict[str, Any]:
        response = await self.http.get(f"{self.sim_url}/ari", params={"hotel_id": self.hotel_id})
        response.raise_for_status()
        held: dict[str, Any] = response.json()
        return held

    async def _sim(self, method: str, path: str, body: Any = None) -> Any:
        response = await self.http.request(method, self.sim_url + path, json=body)
        response.raise_for_status()
        return response.json()


class IcalHarness(AdapterHarness):
    """``IcalChannel`` reading one Airbnb-style listing of the in-process iCal simulator.

    iCal is dates only and pull only: nothing is pushed, read back, acknowledged or sent by
    webhook (``KNOWN_GAPS``), so the pushing levers below answer what the platform would: it
    holds none of innsync's values. Bookings are made, moved and cancelled (removed from the
    feed) through the simulator's control plane.
    """

    name = "ical"
    secret_header = "none"
    room_types = ("listing", "listing-unused")
    rate_plans = (("listing", "none"), ("listing-unused", "none"))
    base_url = "http://ical.sim"
    entry_verdicts_reason = "iCal takes no pushes"

    def __init__(self) -> None:
        super().__init__()
        self.app = ical_sim.create_app(
            IcalSimulatorConfig(seed=3, clock=self.clock, sleep=_no_sleep, huge_bytes=300_000)
        )
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app))
        self.listing = asyncio.run(self._sim("POST", "/listings", {"flavour": "airbnb"}))
        self.adapter = self._adapter(self.listing["feed_path"])  # type: ignore[assignment]

    def _adapter(self, path: str) -> IcalChannel:
        config = IcalConfig(feed_url=SecretStr(self.base_url + path), platform="Airbnb")
        return IcalChannel(config, self.http, now=self.clock)

    async def _sim(self, method: str, path: str, body: object = None) -> Any:
        response = await self.http.request(method, f"{self.base_url}/_sim{path}", json=body)
        assert response.is_success, response.text
        return response.json()

    def close(self) -> None:
        asyncio.run(self.http.aclose())

    async def held_availability(self) -> dict[str, dict[date, int]]:
        return {}  # a platform holds none of innsync's availability: it polls the export

    async def held_rate(self, plan: RatePlanKey, stay_date: date) -> HeldRate | None:
        return None  # iCal carries no rates

    async def refused_room_type(self) -> str:
        return "not-a-listing"

    async def adapter_with_bad_credentials(self) -> ContractAdapter:
        # The feed URL's secret is the only credential; a wrong one answers 404.
        wrong = self.listing["feed_path"].split("?s=")[0] + "?s=wrong"
        return self._adapter(wrong)  # type: ignore[return-value]

    async def make_unavailable(self) -> float | None:
        await self._sim("POST", "/faults", {"server_error_rate": 1.0})
        return None

    async def make_available(self) -> None:
        await self._sim("DELETE", "/faults")

    def _produced(self, uid: str) -> ProducedRevision:
        # The revision id is the adapter's own (UID, generation, dates); iCal has none.
        return ProducedRevision(uid, "", {}, b"")

    async def book(self, room: int, arrival: date, departure: date) -> ProducedRevision:
        listing = self.listing["listing_id"]
        body = {"start": arrival.isoformat(), "end": departure.isoformat()}
        made = await self._sim("POST", f"/listings/{listing}/bookings", body)
        self._stays = getattr(self, "_stays", {}) | {made["uid"]: arrival}
        return self._produced(made["uid"])

    async def block(self, arrival: date, departure: date) -> str:
        listing = self.listing["listing_id"]
        body = {"start": arrival.isoformat(), "end": departure.isoformat()}
        return str((await self._sim("POST", f"/listings/{listing}/blocks", body))["uid"])

    async def modify(self, booking_id: str, departure: date) -> ProducedRevision:
        listing = self.listing["listing_id"]
        body = {"start": self._stays[booking_id].isoformat(), "end": departure.isoformat()}
        await self._sim("POST", f"/listings/{listing}/events/{booking_id}/modify", body)
        return self._produced(booking_id)

    async def cancel(self, booking_id: str) -> ProducedRevision:
        listing = self.listing["listing_id"]
        await self._sim("POST", f"/listings/{listing}/events/{booking_id}/cancel")
        return self._produced(booking_id)


HARNESSES: dict[str, Callable[[], AdapterHarness]] = {
    "fake": FakeHarness,
    "agoda": AgodaHarness,
    "channex": ChannexHarness,
    "aiosell": AiosellHarness,
    "beds24": Beds24Harness,
    "booking_com": BookingComHarness,
    "expedia": ExpediaHarness,
    "ical": IcalHarness,
}

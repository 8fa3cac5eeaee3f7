"""What the EQC simulator holds: ARI per product and date, bookings and their transactions."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from random import Random
from typing import Any, Literal

from innsync.simulators.expedia.config import SimulatorConfig
from innsync.simulators.kit.faults import FaultInjector
from innsync.simulators.kit.requests import Masker, RequestLog

TransactionType = Literal["Book", "Modify", "Cancel"]
TransactionStatus = Literal["pending", "retrieved", "confirmed", "fallback"]
RoomDay = tuple[str, str, date]
"""(hotel id, room type id, stay date)."""
RateDay = tuple[str, str, str, date]
"""(hotel id, room type id, rate plan id, stay date)."""

_GIVEN = ("John", "Maria", "Akira", "Lena", "Omar", "Chloe", "Pavel", "Ines")
_SURNAMES = ("Smith", "Garcia", "Tanaka", "Novak", "Haddad", "Martin", "Ivanov", "Costa")


@dataclass(slots=True)
class Stay:
    """What a booking transaction says about the stay (a snapshot when it was made)."""

    room_id: str
    rate_id: str
    arrival: date
    departure: date
    adults: int
    child_ages: tuple[int, ...]
    nightly_rate: str
    currency: str


@dataclass(slots=True)
class Transaction:
    """One Book, Modify or Cancel message of a booking, delivered in sequence (BR definition)."""

    sequence: int
    booking_id: str
    kind: TransactionType
    stay: Stay
    created_at: datetime
    status: TransactionStatus = "pending"
    confirm_number: str | None = None
    retrievals: int = 0
    confirmations: int = 0
    retrieved_at: datetime | None = None
    confirmed_at: datetime | None = None

    def view(self) -> dict[str, Any]:
        return {
            "sequence": self.sequence,
            "booking_id": self.booking_id,
            "type": self.kind,
            "status": self.status,
            "confirm_number": self.confirm_number,
            "retrievals": self.retrievals,
            "confirmations": self.confirmations,
            "created_at": self.created_at.isoformat(),
            "confirmed_at": None if self.confirmed_at is None else self.confirmed_at.isoformat(),
        }


@dataclass(slots=True)
class Booking:
    """One Expedia booking and its transactions, oldest first."""

    booking_id: str
    hotel_id: str
    source: str
    given_name: str
    surname: str
    phone: str
    transactions: list[Transaction] = field(default_factory=list)

    @property
    def latest(self) -> Transaction:
        return self.transactions[-1]

    def deliverable(self) -> Transaction | None:
        """The transaction BR may hand out as pending: the first still pending, and only once
        every earlier one has been retrieved (BR definition: transactions in sequence)."""
        for transaction in self.transactions:
            if transaction.status == "pending":
                return transaction
        return None


@dataclass
class SimulatorState:
    """Everything one simulator instance holds; ``reset`` forgets it all."""

    config: SimulatorConfig
    faults: FaultInjector = field(init=False)
    requests: RequestLog = field(init=False)
    room_days: dict[RoomDay, dict[str, Any]] = field(init=False)
    rate_days: dict[RateDay, dict[str, Any]] = field(init=False)
    bookings: dict[str, Booking] = field(init=False)
    counters: dict[str, int] = field(init=False)
    sequence: int = field(init=False)
    rng: Random = field(init=False)
    ar_calls: dict[str, deque[datetime]] = field(init=False)

    def __post_init__(self) -> None:
        self.faults = FaultInjector(self.config.faults, self.config.seed)
        self.reset()

    def reset(self) -> None:
        self.requests = RequestLog(self.config.request_log_size, self.config.logged_body_bytes)
        self.room_days = {}
        self.rate_days = {}
        self.bookings = {}
        self.counters = {
            "ar_requests": 0,
            "ar_updates": 0,
            "br_requests": 0,
            "bc_requests": 0,
            "parr_requests": 0,
            "parr_days": 0,
            "errors": 0,
            "warnings": 0,
            "fallback": 0,
        }
        self.sequence = 0
        self.ar_calls = {}
        self.rng = Random(f"{self.config.seed}:bookings")
        self.faults.reseed(self.config.seed)

    def reseed_faults(self, seed: int) -> None:
        self.faults.reseed(seed)

    def now(self) -> datetime:
        return self.config.clock()

    @property
    def max_body_bytes(self) -> int:
        return self.config.max_body_bytes

    async def sleep(self, seconds: float) -> None:
        await self.config.sleep(seconds)

    def masker(self) -> Masker:
        # The log keeps whole bodies, credentials included: the simulator's passwords are the
        # public simulator's published ones, and tests read exactly what the adapter sent.
        return Masker()

    def over_ar_budget(self, hotel_id: str) -> bool:
        """Counts one AR call of the hotel; True when it is past the per-minute budget."""
        limit = self.config.ar_calls_per_minute
        if limit is None:
            return False
        now = self.now()
        calls = self.ar_calls.setdefault(hotel_id, deque())
        while calls and calls[0] <= now - timedelta(minutes=1):
            calls.popleft()
        if len(calls) >= limit:
            return True
        calls.append(now)
        return False

    def next_sequence(self) -> int:
        self.sequence += 1
        return self.sequence

    def new_booking(self, hotel_id: str, stay: Stay, source: str = "Expedia") -> Booking:
        booking_id = str(100_000_000 + self.rng.randrange(900_000_000))
        while booking_id in self.bookings:
            booking_id = str(100_000_000 + self.rng.randrange(900_000_000))
        booking = Booking(
            booking_id,
            hotel_id,
            source,
            self.rng.choice(_GIVEN),
            self.rng.choice(_SURNAMES),
            str(5_550_000 + self.rng.randrange(9999)),
        )
        booking.transactions.append(
            Transaction(self.next_sequence(), booking_id, "Book", stay, self.now())
        )
        self.bookings[booking_id] = booking
        return booking

    def add_transaction(self, booking: Booking, kind: TransactionType, stay: Stay) -> Transaction:
        transaction = Transaction(self.next_sequence(), booking.booking_id, kind, stay, self.now())
        booking.transactions.append(transaction)
        return transaction

    def sweep_fallbacks(self) -> int:
        """Transactions unconfirmed past the window go to fax or e-mail (§3.2)."""
        due = self.now() - timedelta(seconds=self.config.fallback_seconds)
        moved = 0
        for booking in self.bookings.values():
            for transaction in booking.transactions:
                if transaction.status in ("pending", "retrieved") and transaction.created_at <= due:
                    transaction.status = "fallback"
                    moved += 1
        self.counters["fallback"] += moved
        return moved


class Pump:
    """Runs the timed events: the fax/e-mail fallback of unconfirmed bookings."""

    def __init__(self, state: SimulatorState) -> None:
        self.state = state

    async def tick(self) -> dict[str, int]:
        return {"fallback": self.state.sweep_fallbacks()}

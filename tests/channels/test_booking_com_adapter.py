"""The Booking.com adapter against the in-process simulator (§3.1 behaviour).

Token reuse and the hourly cap, the 401 renewal, reservation order, response tokens (409),
other hotels' reservations, past dates; every XML document exchanged is schema-checked.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, select

from innsync.channels.booking_com import BookingComAdapter, BookingComConfig
from innsync.channels.booking_com.reservations import ResponseTokens
from innsync.channels.credentials import AccountCredentials, InMemoryAccountCredentials
from innsync.channels.errors import ChannelAuthError, ChannelRejectedError, ChannelUnavailableError
from innsync.channels.types import (
    AvailabilityUpdate,
    PushRequest,
    RateUpdate,
    RateValues,
)
from innsync.connections.credentials import ChannelAccountCredential, DatabaseAccountCredentials
from innsync.crypto import SecretBox
from innsync.db.engine import session_factory
from innsync.simulators.booking_com import HotelSetup, RoomSetup, SimulatorConfig, create_app
from innsync.simulators.booking_com.config import DEFAULT_HOTELS
from innsync.stay_dates import DateRange
from innsync.xmlkit.parsing import parse_xml
from innsync.xmlkit.validation import opentravel_2015a

T = TypeVar("T")
START = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)
HOTEL = "1234567"
ROOM = "123456701"


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Recorder(httpx.AsyncBaseTransport):
    """The ASGI transport to the simulator, keeping every XML body sent and received."""

    def __init__(self, app: Any) -> None:
        self._inner = httpx.ASGITransport(app=app)
        self.documents: list[bytes] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        body = await response.aread()
        for content in (request.content, body):
            if content.startswith(b"<?xml"):
                self.documents.append(content)
        return httpx.Response(response.status_code, headers=response.headers, content=body)


class Side:
    """The simulator, a client to it and adapters sharing one clock and one token budget."""

    def __init__(self, **options: Any) -> None:
        self.clock = Clock()
        self.app = create_app(
            SimulatorConfig(seed=3, clock=self.clock, pump_interval_seconds=None, **options)
        )
        self.recorder = Recorder(self.app)
        self.http = httpx.AsyncClient(transport=self.recorder)
        self.accounts = InMemoryAccountCredentials()
        self.tokens = ResponseTokens()
        self.config = BookingComConfig(
            hotel_id=HOTEL,
            client_id="innsync-sim-client",
            client_secret=SecretStr("booking-sim-secret"),
            auth_url="http://sim/token-based-authentication/exchange",
            supply_url="http://sim",
            reservations_url="http://sim",
        )

    def adapter(
        self,
        *,
        tokens: ResponseTokens | None = None,
        accounts: AccountCredentials | None = None,
        **changes: Any,
    ) -> BookingComAdapter:
        config = self.config.model_copy(update=changes)
        return BookingComAdapter(
            config,
            self.http,
            now=self.clock,
            accounts=accounts or self.accounts,
            response_tokens=tokens or self.tokens,
        )

    def run(self, step: Callable[[], Awaitable[T]]) -> T:
        async def call() -> T:
            return await step()

        return asyncio.run(call())

    def sim(self, method: str, path: str, body: Any = None) -> Any:
        async def call() -> Any:
            response = await self.http.request(method, f"http://sim/_sim{path}", json=body)
            response.raise_for_status()
            return response.json()

        return asyncio.run(call())


@pytest.fixture
def side() -> Iterator[Side]:
    built = Side()
    yield built
    failures = [
        e for d in built.recorder.documents for e in opentravel_2015a().errors(parse_xml(d))
    ]
    assert failures == []
    assert built.sim("GET", "/counters")["schema_failures"] == 0


def push(adapter: BookingComAdapter, offset: int, units: int) -> Any:
    day = START.date() + timedelta(days=offset)
    request = PushRequest(
        "availability", (AvailabilityUpdate(ROOM, DateRange(day, day + timedelta(days=1)), units),)
    )
    return adapter.push_availability(request)


def test_one_token_serves_every_call_until_shortly_before_it_expires(side: Side) -> None:
    adapter = side.adapter()
    for offset in range(5):
        assert side.run(lambda offset=offset: push(adapter, offset + 1, 3)).is_fully_accepted
    assert side.sim("GET", "/counters")["tokens_issued"] == 1
    side.clock.advance(57 * 60)  # still three minutes left: kept
    side.run(lambda: push(adapter, 9, 3))
    assert side.sim("GET", "/counters")["tokens_issued"] == 1
    side.clock.advance(2 * 60)  # one minute left: renewed before the call
    side.run(lambda: push(adapter, 9, 3))
    assert side.sim("GET", "/counters")["tokens_issued"] == 2


def test_connections_of_one_machine_account_share_its_token(side: Side) -> None:
    # 40 hotels' connections, each with its own credential store: one exchange in all.
    for _ in range(40):
        side.run(side.adapter().test_connection)
    assert side.sim("GET", "/counters")["tokens_issued"] == 1
    other_account = side.adapter(client_id="another-account")
    with pytest.raises(ChannelAuthError):  # its own exchange, refused for its own id
        side.run(other_account.test_connection)


def test_no_more_than_30_tokens_an_hour_even_when_every_token_is_revoked(side: Side) -> None:
    adapter = side.adapter()
    tokens = side.app.state.simulator.tokens
    for _ in range(30):
        side.run(adapter.test_connection)
        tokens.clear()  # Booking.com revokes it: the next call renews
    with pytest.raises(ChannelUnavailableError) as raised:
        side.run(adapter.test_connection)
    assert raised.value.retry_after is not None
    assert 0 < raised.value.retry_after <= 3600
    counters = side.sim("GET", "/counters")
    assert (counters["tokens_issued"], counters["tokens_refused"]) == (30, 0)  # never asked
    side.clock.advance(3601)
    side.run(adapter.test_connection)
    assert side.sim("GET", "/counters")["tokens_issued"] == 31


OTHER_HOTEL = HotelSetup("7654321", (RoomSetup("765432101", ("8001",)),))


@pytest.mark.backends("sqlite", "postgresql", "mariadb")
def test_two_processes_serving_two_hotels_of_one_machine_account_keep_its_hourly_cap(
    committed: Engine, secret_box: SecretBox
) -> None:
    side = Side(hotels=(*DEFAULT_HOTELS, OTHER_HOTEL))
    sessions = session_factory(committed)
    # Two processes on one database: each builds its own stores (its own lease holder).
    processes = [DatabaseAccountCredentials(sessions, secret_box, now=side.clock) for _ in "ab"]
    adapters = [
        side.adapter(accounts=process, hotel_id=hotel)
        for process in processes
        for hotel in (HOTEL, OTHER_HOTEL.hotel_id)
    ]

    async def all_at_once() -> None:
        await asyncio.gather(*(adapter.test_connection() for adapter in adapters))

    side.run(all_at_once)  # four connections needing a token at the same moment
    assert side.sim("GET", "/counters")["tokens_issued"] == 1
    # A connection naming the client id with a wrong secret is refused by Booking.com and
    # spends none of the account's cap, however often it tries.
    impostor = side.adapter(accounts=processes[0], client_secret=SecretStr("guessed"))
    for _ in range(side.config.tokens_per_hour):
        with pytest.raises(ChannelAuthError):
            side.run(impostor.test_connection)

    refusals: list[ChannelUnavailableError] = []
    turns = 35
    for _ in range(turns):
        side.app.state.simulator.tokens.clear()  # Booking.com revokes the token: renew
        for adapter in adapters:
            try:
                side.run(adapter.test_connection)
            except ChannelUnavailableError as exc:
                refusals.append(exc)
    counters = side.sim("GET", "/counters")
    cap = side.config.tokens_per_hour
    # One exchange a turn serves the four connections, until the cap: then all four wait.
    assert (counters["tokens_issued"], counters["tokens_refused"]) == (cap, 0)
    assert len(refusals) == (turns - (cap - 1)) * len(adapters)
    assert all(0 < (exc.retry_after or 0) <= 3600 for exc in refusals)
    side.clock.advance(3601)
    side.run(adapters[0].test_connection)
    assert side.sim("GET", "/counters")["tokens_issued"] == cap + 1

    # Stored by digest and encrypted: neither the client id, the secret nor a token readable.
    with sessions() as session:
        rows = session.scalars(select(ChannelAccountCredential)).all()
    # The account's token, the impostor's (never issued) and the account's exchange count.
    assert sorted((row.name, row.secret_encrypted is None) for row in rows) == [
        ("access", False),
        ("access", True),
        ("exchanges", True),
    ]
    tokens = set(side.app.state.simulator.tokens)
    for row in rows:
        stored = f"{row.account_key} {row.secret_encrypted} {row.issued}"
        assert side.config.client_id not in stored
        assert side.config.client_secret.get_secret_value() not in stored
        assert not any(token in stored for token in tokens)


def test_a_wrong_secret_never_borrows_the_machine_accounts_token_nor_spends_its_cap(
    side: Side,
) -> None:
    adapter = side.adapter()
    side.run(adapter.test_connection)
    impostor = side.adapter(client_secret=SecretStr("guessed"))
    for _ in range(side.config.tokens_per_hour):
        with pytest.raises(ChannelAuthError):  # its own exchange, refused by Booking.com
            side.run(impostor.test_connection)
    side.app.state.simulator.tokens.clear()
    side.run(adapter.test_connection)  # the account still has 29 exchanges this hour
    assert side.sim("GET", "/counters")["tokens_issued"] == 2


def test_a_revoked_token_is_renewed_once_and_the_call_goes_through(side: Side) -> None:
    adapter = side.adapter()
    side.run(adapter.test_connection)
    side.app.state.simulator.tokens.clear()  # Booking.com forgot (revoked) every token
    assert side.run(lambda: push(adapter, 2, 4)).is_fully_accepted
    assert side.sim("GET", "/counters")["tokens_issued"] == 2


def test_reservations_come_new_then_modified_then_cancelled_and_leave_once_acknowledged(
    side: Side,
) -> None:
    arrival = START.date() + timedelta(days=30)
    made = side.sim(
        "POST",
        "/reservations",
        {
            "room_id": ROOM,
            "rate_id": "9001",
            "arrival": arrival.isoformat(),
            "departure": (arrival + timedelta(days=2)).isoformat(),
        },
    )["data"][0]
    reservation_id = made["reservation_id"]
    side.clock.advance(5)
    side.sim(
        "POST",
        f"/reservations/{reservation_id}/modify",
        {"departure": (arrival + timedelta(days=3)).isoformat()},
    )
    side.clock.advance(5)
    side.sim("POST", f"/reservations/{reservation_id}/cancel", {})
    adapter = side.adapter()

    page = side.run(lambda: adapter.pull_revisions(None))
    assert [r.status for r in page.revisions] == ["new", "modified", "cancelled"]
    assert [r.departure - r.arrival for r in page.revisions] == [
        timedelta(days=2),
        timedelta(days=3),
        timedelta(days=3),
    ]
    assert len({r.revision_id for r in page.revisions}) == 3
    assert (page.next_cursor, page.has_more) == (None, False)
    for revision in page.revisions:
        side.run(lambda revision=revision: adapter.acknowledge_revision(revision.revision_id))
    assert side.run(lambda: adapter.pull_revisions(None)).revisions == ()
    assert side.sim("GET", "/queues")["counts"] == {"acknowledged": 3}


def test_with_response_tokens_an_acknowledgement_from_another_process_pulls_again() -> None:
    side = Side(response_tokens=True)
    side.sim("POST", "/reservations/generate", {"count": 2})
    # Two processes: each has its own response tokens.
    puller, acknowledger = side.adapter(), side.adapter(tokens=ResponseTokens())
    first, second = side.run(lambda: puller.pull_revisions(None)).revisions
    # The acknowledger never saw a token: Booking.com answers 409, it pulls again and resends.
    side.run(lambda: acknowledger.acknowledge_revision(first.revision_id))
    # The puller's token for the second one went stale with that pull: 409 again, then done.
    side.run(lambda: puller.acknowledge_revision(second.revision_id))
    assert side.sim("GET", "/queues")["counts"] == {"acknowledged": 2}
    conflicts = [row for row in side.sim("GET", "/requests")["data"] if row["status"] == 409]
    assert len(conflicts) == 2
    # In one process the pull's tokens are the acknowledgement's: no 409.
    side.sim("POST", "/reservations/generate", {"count": 1})
    (third,) = side.run(lambda: puller.pull_revisions(None)).revisions
    side.run(lambda: side.adapter().acknowledge_revision(third.revision_id))
    assert len([row for row in side.sim("GET", "/requests")["data"] if row["status"] == 409]) == 2


def test_another_hotels_reservations_are_left_for_its_own_connection() -> None:
    other = HotelSetup("7654321", (RoomSetup("765432101", ("8001",)),))
    side = Side(hotels=(*DEFAULT_HOTELS, other))
    side.sim("POST", "/reservations", {"hotel_id": "7654321"})
    mine = side.sim("POST", "/reservations", {"hotel_id": HOTEL})["data"][0]["reservation_id"]
    # Without the hotel filter Booking.com returns the provider's whole queue.
    adapter = side.adapter(hotel_filter_param=None)
    page = side.run(lambda: adapter.pull_revisions(None))
    assert [r.channel_booking_id for r in page.revisions] == [mine]


def test_past_dates_are_never_sent(side: Side) -> None:
    adapter = side.adapter()
    yesterday = START.date() - timedelta(days=1)
    request = PushRequest(
        "availability",
        (AvailabilityUpdate(ROOM, DateRange(yesterday - timedelta(days=5), yesterday), 2),),
    )
    result = side.run(lambda: adapter.push_availability(request))
    assert [(e.accepted, e.sent) for e in result.entries] == [(True, False)]
    assert not [
        row for row in side.sim("GET", "/requests")["data"] if row["path"].endswith("AvailNotif")
    ]
    assert date.fromisoformat("2030-01-07") == START.date()


def test_documented_refusals_are_translated(side: Side) -> None:
    # §3.1 403 "Access denied for hotel": the machine account does not reach the hotel.
    with pytest.raises(ChannelAuthError, match="Access denied for hotel"):
        side.run(lambda: side.adapter(hotel_id="7777777").pull_revisions(None))
    # §3.1 400 "transaction message of the wrong type": an ack of a message never pulled.
    made = side.sim("POST", "/reservations/generate", {"count": 1})["data"][0]
    stale = f"m:{made['reservation_id']}:0"
    with pytest.raises(ChannelRejectedError, match="wrong type"):
        side.run(lambda: side.adapter().acknowledge_revision(stale))
    assert side.sim("GET", "/queues")["counts"] == {"pending": 1}


def test_availability_and_rates_together_are_one_avail_notif_and_one_rate_amount_notif(
    side: Side,
) -> None:
    day = START.date() + timedelta(days=3)
    stay = DateRange(day, day + timedelta(days=2))
    availability = PushRequest("availability", (AvailabilityUpdate(ROOM, stay, 4),))
    rates = PushRequest(
        "rates",
        (
            RateUpdate(ROOM, "9001", stay, RateValues(price=Decimal("80.00"), stop_sell=True)),
            RateUpdate(ROOM, "9002", stay, RateValues(min_stay_arrival=2, min_stay_through=3)),
        ),
    )
    adapter = side.adapter()
    first, second = side.run(lambda: adapter.push_ari(availability, rates))
    paths = [
        row["path"].rsplit("/", 1)[1]
        for row in side.sim("GET", "/requests")["data"]
        if "Notif" in row["path"]
    ]
    assert sorted(paths) == ["OTA_HotelAvailNotif", "OTA_HotelRateAmountNotif"]
    # Each side indexed like its own request: the rates' refusal stays with the rates.
    assert [(e.index, e.accepted, e.sent) for e in first.entries] == [(0, True, True)]
    assert [(e.index, e.accepted) for e in second.entries] == [(0, True), (1, False)]
    assert "min_stay_through 3" in (second.entries[1].reason or "")
    held = side.sim("GET", "/ari")["data"][HOTEL]
    assert held["availability"][ROOM][day.isoformat()] == 4
    assert held["prices"][ROOM]["9001"][day.isoformat()] == {"default": "80.00"}

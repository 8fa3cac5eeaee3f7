"""The Channex adapter against the Channex simulator, in process, through httpx's ASGI transport."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import httpx
import pytest

from innsync.channels import registry
from innsync.channels.channex import (
    CHANNEX_LIMITS,
    PRODUCTION_BASE_URL,
    ChannexAdapter,
    ChannexConfig,
)
from innsync.channels.contract import capabilities_of
from innsync.channels.errors import (
    ChannelAuthError,
    ChannelRejectedError,
    ChannelUnavailableError,
    MappingMissingError,
)
from innsync.channels.types import (
    AvailabilityUpdate,
    EntryResult,
    PushRequest,
    PushResult,
    RateUpdate,
    RateValues,
)
from innsync.simulators.channex import SimulatorConfig, create_app
from innsync.stay_dates import DateRange
from tests.simulators.conftest import (
    START,
    TODAY,
    FakeClock,
    Hotel,
    RecordingSleep,
    SimClient,
    create_hotel,
)

KEY = "adapter-test-key"
BASE_URL = "http://channex.sim/api/v1"
T = TypeVar("T")


@dataclass
class Setup:
    """A simulator with a provisioned hotel, and the way to run an adapter against it."""

    app: Any
    client: SimClient
    clock: FakeClock
    hotel: Hotel

    def config(self, **overrides: Any) -> ChannexConfig:
        return ChannexConfig.model_validate(
            {
                "base_url": BASE_URL,
                "api_key": KEY,
                "property_id": self.hotel.property_id,
                **overrides,
            }
        )

    def run(self, use: Callable[[ChannexAdapter], Awaitable[T]], **overrides: Any) -> T:
        """Run ``use`` with an adapter on a fresh HTTP client; the adapter sees the sim's clock."""

        async def scenario() -> T:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport) as http:
                return await use(ChannexAdapter(self.config(**overrides), http, now=self.clock))

        return asyncio.run(scenario())

    def posts(self) -> list[tuple[str, int]]:
        """The ARI writes the simulator received (entity set-up left out)."""
        log = self.client.get("/_sim/requests").json()["data"]
        return [
            (row["path"], row["status"])
            for row in log
            if row["method"] == "POST" and row["endpoint_class"] in ("availability", "restrictions")
        ]

    def ari(self) -> dict[str, Any]:
        data: dict[str, Any] = self.client.get("/_sim/ari").json()["data"][self.hotel.property_id]
        return data


def build(**config: Any) -> Setup:
    clock = FakeClock(START)
    app = create_app(
        SimulatorConfig(
            api_keys=(KEY,),
            seed=11,
            clock=clock,
            sleep=RecordingSleep(),
            pump_interval_seconds=None,
            **config,
        )
    )
    client = SimClient(app, api_key=KEY)
    return Setup(app, client, clock, create_hotel(client))


@pytest.fixture
def setup() -> Setup:
    return build()


def on(offset: int) -> date:
    return TODAY + timedelta(days=offset)


def span(first: int, last: int) -> DateRange:
    return DateRange.inclusive(on(first), on(last))


def availability(*updates: AvailabilityUpdate) -> PushRequest[AvailabilityUpdate]:
    return PushRequest("availability", updates)


def rates(*updates: RateUpdate) -> PushRequest[RateUpdate]:
    return PushRequest("rates", updates)


def test_pushes_availability_and_restrictions_and_reads_them_back(setup: Setup) -> None:
    hotel = setup.hotel
    twin_bar = RateUpdate(
        hotel.twin_id,
        hotel.twin_bar_id,
        span(0, 13),
        RateValues(
            price=Decimal("150"),
            min_stay_arrival=2,
            min_stay_through=1,
            max_stay=0,
            closed_to_arrival=False,
            closed_to_departure=False,
            stop_sell=False,
        ),
    )
    weekend = RateUpdate(
        hotel.twin_id,
        hotel.twin_bar_id,
        span(0, 13),
        RateValues(price=Decimal("180.50"), closed_to_arrival=True),
        frozenset({5, 6}),
    )
    per_person = RateUpdate(
        hotel.double_id,
        hotel.double_pp_id,
        span(2, 3),
        RateValues(occupancy_prices=((1, Decimal("95")), (2, Decimal("130")))),
    )

    async def scenario(adapter: ChannexAdapter) -> tuple[PushResult, PushResult, Any, Any]:
        pushed_availability = await adapter.push_availability(
            availability(
                AvailabilityUpdate(hotel.twin_id, span(0, 9), 5),
                AvailabilityUpdate(hotel.double_id, span(3, 3), 0),
            )
        )
        # Overlapping entries apply in order (§1.5 "last win"): the weekend pattern wins.
        pushed_rates = await adapter.push_rates(rates(twin_bar, weekend, per_person))
        shown_availability = await adapter.read_availability(
            [hotel.twin_id, hotel.double_id], span(2, 4)
        )
        shown_rates = await adapter.read_rates(
            [(hotel.twin_id, hotel.twin_bar_id), (hotel.double_id, hotel.double_pp_id)],
            span(4, 5),
        )
        return pushed_availability, pushed_rates, shown_availability, shown_rates

    pushed_availability, pushed_rates, shown_availability, shown_rates = setup.run(scenario)

    tasks = setup.client.get("/_sim/ari").json()["tasks"]
    assert pushed_availability == PushResult.all_accepted(2, tasks[0])
    assert pushed_rates == PushResult.all_accepted(3, tasks[1])
    assert setup.posts() == [("/api/v1/availability", 200), ("/api/v1/restrictions", 200)]

    ari = setup.ari()
    assert ari["availability"][hotel.twin_id] == {on(n).isoformat(): 5 for n in range(10)}
    assert ari["availability"][hotel.double_id] == {on(3).isoformat(): 0}
    twin = ari["restrictions"][hotel.twin_bar_id]
    assert sorted(twin) == [on(n).isoformat() for n in range(14)]
    assert {day: values["rate"] for day, values in twin.items() if values["rate"] != "150.00"} == {
        on(n).isoformat(): "180.50" for n in (5, 6, 12, 13)
    }
    saturday = twin[on(5).isoformat()]
    assert (saturday["closed_to_arrival"], saturday["min_stay_arrival"]) == (True, 2)
    double = ari["restrictions"][hotel.double_pp_id][on(2).isoformat()]["rates"]
    assert sorted((row["occupancy"], row["rate"]) for row in double) == [
        (1, "95.00"),
        (2, "130.00"),
    ]

    assert shown_availability == {
        hotel.twin_id: {on(2): 5, on(3): 5, on(4): 5},
        hotel.double_id: {on(2): 0, on(3): 0, on(4): 0},  # §1.4: a new room type starts at 0
    }
    friday_values = RateValues(
        price=Decimal("150.00"),
        min_stay_arrival=2,
        min_stay_through=1,
        max_stay=0,
        closed_to_arrival=False,
        closed_to_departure=False,
        stop_sell=False,
        min_advance=0,
        max_advance=0,
    )
    twin_shown = shown_rates[(hotel.twin_id, hotel.twin_bar_id)]
    assert twin_shown == {
        on(4): friday_values,
        on(5): RateValues(
            price=Decimal("180.50"),
            min_stay_arrival=2,
            min_stay_through=1,
            max_stay=0,
            closed_to_arrival=True,
            closed_to_departure=False,
            stop_sell=False,
            min_advance=0,
            max_advance=0,
        ),
    }
    # A per-person plan's price list cannot be read back through GET /restrictions.
    assert {
        values.price for values in shown_rates[(hotel.double_id, hotel.double_pp_id)].values()
    } == {None}


def test_sends_exactly_the_documented_payload(setup: Setup) -> None:
    hotel = setup.hotel
    bodies: list[Any] = []
    inner = httpx.ASGITransport(app=setup.app)

    async def record(request: httpx.Request) -> httpx.Response:
        assert request.headers["user-api-key"] == KEY
        if request.method == "POST":
            assert request.headers["content-type"] == "application/json"
            bodies.append(json.loads(request.content))
        return await inner.handle_async_request(request)

    async def scenario() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(record)) as http:
            adapter = ChannexAdapter(setup.config(), http, now=setup.clock)
            await adapter.push_rates(
                rates(
                    RateUpdate(
                        hotel.twin_id,
                        hotel.twin_bar_id,
                        span(-1, 20),
                        RateValues(stop_sell=True),
                        frozenset({0, 4}),
                    ),
                    RateUpdate(
                        hotel.twin_id, hotel.twin_bar_id, span(3, 3), RateValues(max_stay=7)
                    ),
                )
            )
            await adapter.push_availability(
                availability(AvailabilityUpdate(hotel.double_id, span(1, 4), 6))
            )

    asyncio.run(scenario())
    assert bodies == [
        {
            "values": [
                {
                    "property_id": hotel.property_id,
                    "rate_plan_id": hotel.twin_bar_id,
                    "date_from": on(0).isoformat(),  # the past Friday is cut off
                    "date_to": on(18).isoformat(),
                    "days": ["mo", "fr"],
                    "stop_sell": True,
                },
                {
                    "property_id": hotel.property_id,
                    "rate_plan_id": hotel.twin_bar_id,
                    "date": on(3).isoformat(),
                    "max_stay": 7,
                },
            ]
        },
        {
            "values": [
                {
                    "property_id": hotel.property_id,
                    "room_type_id": hotel.double_id,
                    "date_from": on(1).isoformat(),
                    "date_to": on(4).isoformat(),
                    "availability": 6,
                }
            ]
        },
    ]


def test_warnings_become_per_entry_rejections(setup: Setup) -> None:
    hotel = setup.hotel
    request = rates(
        RateUpdate(hotel.twin_id, hotel.twin_bar_id, span(0, 2), RateValues(price=Decimal("99"))),
        RateUpdate(hotel.twin_id, hotel.twin_bar_id, span(3, 3), RateValues(price=Decimal("0"))),
        RateUpdate(
            hotel.twin_id,
            "00000000-0000-4000-8000-000000000000",
            span(0, 1),
            RateValues(stop_sell=True),
        ),
        RateUpdate(hotel.twin_id, hotel.twin_bar_id, span(4, 4), RateValues(min_stay_through=3)),
    )

    result = setup.run(lambda adapter: adapter.push_rates(request))

    assert result.entries == (
        EntryResult(0, accepted=True),
        EntryResult(1, accepted=False, reason="rate: must be greater than 0"),
        EntryResult(2, accepted=False, reason="rate_plan_id: not found"),
        EntryResult(3, accepted=True),
    )
    assert result.task_id is not None
    assert result.warnings == (
        "entry 1: rate: must be greater than 0",
        "entry 2: rate_plan_id: not found",
    )
    twin = setup.ari()["restrictions"][hotel.twin_bar_id]
    assert sorted(twin) == [on(n).isoformat() for n in (0, 1, 2, 4)]  # the refused date: untouched
    assert twin[on(4).isoformat()]["min_stay_through"] == 3


class UnplaceableWarnings(httpx.AsyncBaseTransport):
    """The simulator, with the echoed entry of every ARI warning altered beyond recognition
    (as when Channex echoes a value in another form than it was sent)."""

    def __init__(self, app: Any) -> None:
        self._inner = httpx.ASGITransport(app=app)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        if request.method != "POST" or not request.url.path.endswith(
            ("/restrictions", "/availability")
        ):
            return response
        body = json.loads(await response.aread())
        for warning in body.get("meta", {}).get("warnings", []):
            warning["rate_plan_id"] = warning["room_type_id"] = "echoed-differently"
        return httpx.Response(response.status_code, json=body)


def test_a_refusal_matching_no_entry_is_settled_by_reading_back(setup: Setup) -> None:
    hotel = setup.hotel
    request = rates(
        RateUpdate(hotel.twin_id, hotel.twin_bar_id, span(0, 2), RateValues(price=Decimal("99"))),
        RateUpdate(hotel.twin_id, hotel.twin_bar_id, span(3, 3), RateValues(price=Decimal("0"))),
        RateUpdate(hotel.twin_id, hotel.twin_bar_id, span(4, 4), RateValues(min_stay_through=3)),
    )

    async def scenario() -> PushResult:
        async with httpx.AsyncClient(transport=UnplaceableWarnings(setup.app)) as http:
            adapter = ChannexAdapter(setup.config(), http, now=setup.clock)
            return await adapter.push_rates(request)

    result = asyncio.run(scenario())

    # Only the entry Channex really refused is refused (and dead-lettered by the engine); the
    # two it took, proven by the read-back, are accepted.
    assert result.entries == (
        EntryResult(0, accepted=True),
        EntryResult(1, accepted=False, reason="rate: must be greater than 0"),
        EntryResult(2, accepted=True),
    )
    reads = [
        row["path"]
        for row in setup.client.get("/_sim/requests").json()["data"]
        if row["method"] == "GET" and row["endpoint_class"] == "restrictions"
    ]
    assert len(reads) == 1


def test_a_call_with_every_entry_refused_has_no_task(setup: Setup) -> None:
    hotel = setup.hotel
    request = availability(
        AvailabilityUpdate("00000000-0000-4000-8000-000000000001", span(0, 1), 2)
    )
    result = setup.run(lambda adapter: adapter.push_availability(request))
    assert result.task_id is None
    assert result.rejected == {0: "room_type_id: not found"}
    assert setup.ari()["availability"][hotel.twin_id] == {}


def test_the_documented_availability_answer_without_a_task_is_understood() -> None:
    setup = build(availability_response="documented")
    request = availability(AvailabilityUpdate(setup.hotel.twin_id, span(0, 1), 2))
    result = setup.run(lambda adapter: adapter.push_availability(request))
    assert result == PushResult.all_accepted(1)


def test_past_only_updates_spend_no_call(setup: Setup) -> None:
    hotel = setup.hotel
    request = rates(
        RateUpdate(hotel.twin_id, hotel.twin_bar_id, span(-3, -1), RateValues(stop_sell=True)),
        RateUpdate(hotel.twin_id, hotel.twin_bar_id, span(2, 2), RateValues(min_advance=3)),
    )
    result = setup.run(lambda adapter: adapter.push_rates(request))
    assert result.is_fully_accepted
    assert result.unsent_indexes == (0, 1)  # refused by no one, but nothing to acknowledge
    assert result.task_id is None
    assert result.warnings == (
        "entries 0: past dates only; Channex takes none",
        "entries 1: min/max advance not sent; Channex API v1 has no such restriction",
    )
    assert setup.posts() == []


def test_today_is_the_property_s_own_today() -> None:
    # 09:00 UTC is still yesterday evening in Pago Pago (UTC-11), so yesterday (in UTC) is open.
    setup = build()
    hotel = create_hotel(setup.client, title="Far west", timezone="Pacific/Pago_Pago")
    setup.hotel = hotel
    request = availability(AvailabilityUpdate(hotel.twin_id, span(-2, 0), 4))
    result = setup.run(lambda adapter: adapter.push_availability(request))
    assert result.is_fully_accepted
    assert setup.ari()["availability"][hotel.twin_id] == {
        on(-1).isoformat(): 4,
        on(0).isoformat(): 4,
    }


def test_wrong_key_is_an_auth_error_that_never_shows_the_key(setup: Setup) -> None:
    request = availability(AvailabilityUpdate(setup.hotel.twin_id, span(0, 1), 2))
    wrong = "not-the-key-123"
    with pytest.raises(ChannelAuthError) as pushed:
        setup.run(lambda adapter: adapter.push_availability(request), api_key=wrong)
    with pytest.raises(ChannelAuthError) as tested:
        setup.run(lambda adapter: adapter.test_connection(), api_key=wrong)
    for error in (pushed.value, tested.value):
        assert "401" in str(error)
        assert "unauthorized" in str(error)
        assert wrong not in str(error)
        assert KEY not in str(error)
    assert setup.ari()["availability"][setup.hotel.twin_id] == {}


def test_eleventh_call_in_a_minute_is_unavailable_with_a_retry_after(setup: Setup) -> None:
    hotel = setup.hotel

    async def scenario(adapter: ChannexAdapter) -> list[PushResult]:
        results = []
        for call in range(10):
            setup.clock.advance(seconds=3)
            update = RateUpdate(
                hotel.twin_id, hotel.twin_bar_id, span(1, 1), RateValues(price=Decimal(100 + call))
            )
            results.append(await adapter.push_rates(rates(update)))
        # The availability budget is separate (§1.3): it is still open.
        await adapter.push_availability(
            availability(AvailabilityUpdate(hotel.twin_id, span(1, 1), 1))
        )
        last = RateUpdate(
            hotel.twin_id, hotel.twin_bar_id, span(1, 1), RateValues(price=Decimal("555"))
        )
        await adapter.push_rates(rates(last))
        return results

    with pytest.raises(ChannelUnavailableError) as refused:
        setup.run(scenario)
    assert refused.value.retry_after == 60.0
    assert "429" in str(refused.value)
    assert [status for _, status in setup.posts()] == [200] * 11 + [429]
    # Nothing of the refused call was processed (§1.3).
    assert setup.ari()["restrictions"][setup.hotel.twin_bar_id][on(1).isoformat()]["rate"] == (
        "109.00"
    )


def test_server_errors_are_unavailable(setup: Setup) -> None:
    setup.client.post("/_sim/faults", {"server_error_rate": 1.0})
    request = availability(AvailabilityUpdate(setup.hotel.twin_id, span(0, 1), 2))
    with pytest.raises(ChannelUnavailableError) as failed:
        setup.run(lambda adapter: adapter.push_availability(request))
    assert failed.value.retry_after is None
    assert any(code in str(failed.value) for code in ("500", "502", "503"))
    with pytest.raises(ChannelUnavailableError):
        setup.run(lambda adapter: adapter.read_availability([setup.hotel.twin_id], span(0, 1)))
    setup.client.post("/_sim/faults", {"server_error_rate": 0.0})
    assert setup.ari()["availability"][setup.hotel.twin_id] == {}


def test_connection_test_reads_the_property(setup: Setup) -> None:
    setup.run(lambda adapter: adapter.test_connection())
    assert setup.client.get("/_sim/requests").json()["data"][-1]["path"] == (
        f"/api/v1/properties/{setup.hotel.property_id}"
    )
    unknown = "00000000-0000-4000-8000-000000000002"
    with pytest.raises(MappingMissingError, match="404 not_found"):
        setup.run(lambda adapter: adapter.test_connection(), property_id=unknown)
    # Pushing to it is a setup problem too (the connection needs attention), not a refusal.
    request = availability(AvailabilityUpdate(setup.hotel.twin_id, span(0, 1), 2))
    with pytest.raises(MappingMissingError):
        setup.run(lambda adapter: adapter.push_availability(request), property_id=unknown)
    assert setup.posts() == []


def test_the_timezone_is_read_once_per_adapter(setup: Setup) -> None:
    hotel = setup.hotel

    async def scenario(adapter: ChannexAdapter) -> None:
        await adapter.test_connection()
        for count in (1, 2):
            await adapter.push_availability(
                availability(AvailabilityUpdate(hotel.twin_id, span(0, 0), count))
            )

    setup.run(scenario)
    paths = [row["path"] for row in setup.client.get("/_sim/requests").json()["data"]]
    assert paths[-3:] == [
        f"/api/v1/properties/{hotel.property_id}",
        "/api/v1/availability",
        "/api/v1/availability",
    ]


# Transport-level failures, answered by a stand-in transport rather than the simulator.


def answer_with(
    handler: Callable[[httpx.Request], httpx.Response],
) -> Callable[[Callable[[ChannexAdapter], Awaitable[T]]], T]:
    config = ChannexConfig(
        base_url=BASE_URL, api_key=KEY, property_id="5f0c3c56-1c1f-4d4e-9a51-0d6a4c6a0001"
    )

    def run(use: Callable[[ChannexAdapter], Awaitable[T]]) -> T:
        async def scenario() -> T:
            async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
                return await use(ChannexAdapter(config, http, now=FakeClock(START)))

        return asyncio.run(scenario())

    return run


def read(adapter: ChannexAdapter) -> Awaitable[object]:
    return adapter.read_availability(["room"], span(0, 1))


def raising(error: Exception) -> Callable[[httpx.Request], httpx.Response]:
    def handler(_: httpx.Request) -> httpx.Response:
        raise error

    return handler


@pytest.mark.parametrize(
    "error",
    [httpx.ConnectTimeout("slow"), httpx.ReadTimeout("slow"), httpx.ConnectError("refused")],
)
def test_transport_failures_are_unavailable(error: Exception) -> None:
    with pytest.raises(ChannelUnavailableError, match="Channex GET /availability"):
        answer_with(raising(error))(read)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "17"}, 17.0),
        ({"retry-after": "Mon, 07 Jan 2030 09:02:00 GMT"}, 120.0),
        ({"retry-after": "Mon, 07 Jan 2030 08:00:00 GMT"}, 0.0),
        ({"retry-after": "Mon, 07 Jan 2030 09:02:00 -0000"}, None),
        ({"retry-after": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after_header_on_server_errors(
    headers: dict[str, str], expected: float | None
) -> None:
    with pytest.raises(ChannelUnavailableError) as failed:
        answer_with(lambda _: httpx.Response(503, headers=headers))(read)
    assert failed.value.retry_after == expected
    assert "(no error body)" in str(failed.value)


def test_retry_after_header_wins_over_the_default_pause_on_429() -> None:
    with pytest.raises(ChannelUnavailableError) as failed:
        answer_with(lambda _: httpx.Response(429, headers={"retry-after": "5"}))(read)
    assert failed.value.retry_after == 5.0


def test_request_timeout_status_is_unavailable() -> None:
    with pytest.raises(ChannelUnavailableError, match="408"):
        answer_with(lambda _: httpx.Response(408))(read)


def test_forbidden_is_an_auth_error() -> None:
    with pytest.raises(ChannelAuthError, match="403"):
        answer_with(lambda _: httpx.Response(403, json={"errors": {"code": "forbidden"}}))(read)


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (
            422,
            {
                "errors": {
                    "code": "validation_error",
                    "title": "Validation Error",
                    "details": {"values": ["can't be blank"]},
                }
            },
            "422 validation_error: Validation Error (values can't be blank)",
        ),
        (
            400,
            {
                "errors": {
                    "code": "bad_request",
                    "title": "Bad Request",
                    "details": ["restrictions is required"],
                }
            },
            "400 bad_request: Bad Request (restrictions is required)",
        ),
        (413, {"errors": {"code": "payload_too_large", "details": {"body": "too big"}}}, "too big"),
        (404, {"errors": {"code": "not_found", "title": "Resouce Not Found"}}, "404 not_found"),
        (404, ["not an envelope"], "404 (no error body)"),
    ],
)
def test_refusals_are_rejections_with_the_vendor_reasons(
    status: int, body: Any, message: str
) -> None:
    with pytest.raises(ChannelRejectedError) as refused:
        answer_with(lambda _: httpx.Response(status, json=body))(read)
    assert message in str(refused.value)


def test_an_answer_that_is_not_json_is_unavailable() -> None:
    with pytest.raises(ChannelUnavailableError, match="no JSON"):
        answer_with(lambda _: httpx.Response(200, text="<html>maintenance</html>"))(read)


def test_an_answer_of_the_wrong_shape_is_unavailable() -> None:
    with pytest.raises(ChannelUnavailableError, match=r"unexpected answer \(fields: data"):
        answer_with(lambda _: httpx.Response(200, json={"data": [1, 2]}))(read)


def test_a_body_over_ten_megabytes_is_refused_before_it_is_sent() -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200, json={"data": {"type": "property", "attributes": {"id": "p"}}})

    huge = "x" * 2_600_000  # four such codes pass 10 MB
    request = availability(*(AvailabilityUpdate(huge + str(n), span(0, 0), 1) for n in range(4)))
    with pytest.raises(ChannelRejectedError, match="at most 10000000 bytes"):
        answer_with(handler)(lambda adapter: adapter.push_availability(request))
    assert [call.method for call in calls] == ["GET"]  # the property's timezone, nothing else


# Registry and configuration.


def test_registered_kind_builds_from_stored_config() -> None:
    assert "channex" in registry.kinds()
    kind = registry.get("channex")
    stored = json.loads(
        kind.config_model.model_validate(
            {"api_key": KEY, "property_id": "5F0C3C56-1C1F-4D4E-9A51-0D6A4C6A0001"}
        ).model_dump_json()
    )
    # The key survives the JSON the connection store encrypts; the id is normalised.
    assert stored == {
        "base_url": PRODUCTION_BASE_URL,
        "api_key": KEY,
        "property_id": "5f0c3c56-1c1f-4d4e-9a51-0d6a4c6a0001",
        "timeout_seconds": 30.0,
        "connect_timeout_seconds": 10.0,
        "webhook_secret": None,
        "feed_poll_seconds": 60.0,
        "channels_poll_seconds": 3600.0,
        "cancellation_policies": "off",
    }
    adapter = registry.build_adapter(
        "channex", stored, registry.AdapterContext(httpx.AsyncClient())
    )
    assert isinstance(adapter, ChannexAdapter)
    assert adapter.name == "channex"
    assert adapter.limits == CHANNEX_LIMITS
    assert capabilities_of(adapter) == {
        "pushes_availability",
        "pushes_rates",
        "reads_back_ari",
        "reads_remote_catalog",
        "provisions_property",
        "pulls_reservations",
        "pulls_account_revisions",
        "receives_webhooks",
        "acknowledges_reservations",
        "registers_webhooks",
        "reads_ota_channels",
        "reports_booking_actions",
        "removes_remote_rate_plans",
        "removes_remote_room_types",
        "reads_booking",
        "lists_bookings",
    }


def test_config_masks_the_key_and_checks_its_fields() -> None:
    config = ChannexConfig(api_key=KEY, property_id="5f0c3c56-1c1f-4d4e-9a51-0d6a4c6a0001")
    assert KEY not in repr(config)
    assert KEY not in str(config.model_dump())
    with pytest.raises(ValueError, match="property UUID"):
        ChannexConfig(api_key=KEY, property_id="hotel-1")
    with pytest.raises(ValueError, match="http"):
        ChannexConfig(api_key=KEY, property_id=config.property_id, base_url="ftp://x")
    assert (
        ChannexConfig(
            api_key=KEY,
            property_id=config.property_id,
            base_url="https://staging.channex.io/api/v1/",
        ).base_url
        == "https://staging.channex.io/api/v1"
    )


def test_limits_follow_channex_md() -> None:
    assert (CHANNEX_LIMITS.requests_per_window, CHANNEX_LIMITS.window_seconds) == (10, 60.0)
    assert CHANNEX_LIMITS.window_scope == "property"
    assert CHANNEX_LIMITS.budget_for("availability") != CHANNEX_LIMITS.budget_for("rates")
    assert CHANNEX_LIMITS.understands_ranges
    assert CHANNEX_LIMITS.understands_weekdays
    assert CHANNEX_LIMITS.accepts_partial_rates
    assert CHANNEX_LIMITS.max_entries_per_request is None

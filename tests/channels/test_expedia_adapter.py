"""The Expedia adapter against the in-process EQC simulator: errors become the right outcomes."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from fastapi import FastAPI

from innsync.channels.errors import (
    ChannelAuthError,
    ChannelRejectedError,
    ChannelUnavailableError,
)
from innsync.channels.expedia import ExpediaAdapter
from innsync.channels.types import AvailabilityUpdate, PushRequest, RateUpdate, RateValues
from innsync.simulators.expedia import SimulatorConfig, create_app
from innsync.stay_dates import DateRange
from tests.channels.expedia_support import adapter_config, with_adapter
from tests.simulators.conftest import START, FakeClock, RecordingSleep, SimClient


@pytest.fixture
def app() -> FastAPI:
    return create_app(
        SimulatorConfig(clock=FakeClock(START), sleep=RecordingSleep(), pump_interval_seconds=None)
    )


def nights(first: int, last: int) -> DateRange:
    today = START.date()
    return DateRange(today + timedelta(days=first), today + timedelta(days=last))


def test_a_refused_message_refuses_every_entry_it_carried(app: FastAPI) -> None:
    good = AvailabilityUpdate("20000", nights(1, 5), 3)
    unknown = AvailabilityUpdate("99999", nights(1, 5), 3)

    async def push(adapter: ExpediaAdapter) -> object:
        return await adapter.push_availability(
            PushRequest("availability", (good, unknown), START.date())
        )

    result = with_adapter(app, adapter_config(), push)
    assert result.accepted_indexes == ()  # type: ignore[attr-defined]
    assert set(result.rejected.values()) == {  # type: ignore[attr-defined]
        "EQC error 3203: RoomType ID 99999 is not valid"
    }
    assert app.state.simulator.room_days == {}


def test_a_push_past_the_cap_is_split_into_full_messages(app: FastAPI) -> None:
    # 2 rate plans x 400 days x 5 values = 4000 updates: 2 messages of 3000 and 1000.
    values = RateValues(
        price=Decimal("99"),
        min_stay_arrival=2,
        max_stay=7,
        closed_to_arrival=False,
        stop_sell=False,
    )
    updates = (
        RateUpdate("20000", "21000", nights(0, 400), values),
        RateUpdate("20000", "22000", nights(0, 400), values),
    )

    async def push(adapter: ExpediaAdapter) -> object:
        return await adapter.push_rates(PushRequest("rates", updates, START.date()))

    result = with_adapter(app, adapter_config(), push)
    assert result.is_fully_accepted  # type: ignore[attr-defined]
    assert result.unsent_indexes == ()  # type: ignore[attr-defined]
    rows = SimClient(app, api_key=None).get("/_sim/requests").json()["data"]
    assert [row["path"] for row in rows] == ["/connect/ar", "/connect/ar"]
    assert app.state.simulator.counters["ar_updates"] == 4000
    held = app.state.simulator.rate_days
    assert len(held) == 800
    assert {fields["rate"] for fields in held.values()} == {"99"}


@pytest.mark.parametrize(
    ("password", "error"),
    [("not-the-password", ChannelAuthError), ("ECL.TIMEOUT", ChannelUnavailableError)],
)
def test_login_and_eqc_trouble_become_the_kits_errors(
    app: FastAPI, password: str, error: type[Exception]
) -> None:
    async def check(adapter: ExpediaAdapter) -> None:
        await adapter.test_connection()

    with pytest.raises(error):
        with_adapter(app, adapter_config(password=password), check)


def test_a_confirmation_eqc_will_never_take_is_a_refusal(app: FastAPI) -> None:
    async def confirm(adapter: ExpediaAdapter) -> None:
        await adapter.acknowledge_revision("123456/Book/2030-01-07T09:00:00Z")

    with pytest.raises(ChannelRejectedError, match="3301"):
        with_adapter(app, adapter_config(), confirm)

    async def malformed(adapter: ExpediaAdapter) -> None:
        await adapter.acknowledge_revision("not-ours")

    with pytest.raises(ChannelRejectedError, match="not an Expedia revision id"):
        with_adapter(app, adapter_config(), malformed)
    assert app.state.simulator.counters["bc_requests"] == 1  # the malformed id sent nothing


def test_the_confirmation_carries_the_number_it_is_given(app: FastAPI) -> None:
    sim = SimClient(app, api_key=None)
    (made,) = sim.post("/_sim/bookings", {"hotel_id": "211"}).json()["data"]

    async def pull_and_confirm(adapter: ExpediaAdapter) -> tuple[str | None, str | None]:
        (revision,) = (await adapter.pull_revisions(None)).revisions
        await adapter.confirm_revision(revision.revision_id, "a" * 32)
        return adapter.booking_id_of(revision.revision_id), adapter.booking_id_of("nonsense")

    found = with_adapter(app, adapter_config(), pull_and_confirm)
    assert found == (made["booking_id"], None)
    (booking,) = sim.get("/_sim/bookings").json()["data"]
    assert booking["transactions"][0]["confirm_number"] == "a" * 32


def test_read_back_returns_what_ar_set_in_pieces_of_31_days(app: FastAPI) -> None:
    dates = nights(1, 41)  # 40 nights: two PARR calls of 31 and 9 days
    values = RateValues(
        price=Decimal("120.50"),
        min_stay_arrival=2,
        max_stay=0,  # no maximum: sent as EQC's 28, read back as 0
        closed_to_arrival=True,
        closed_to_departure=False,
        stop_sell=False,
    )
    capped = RateValues(max_stay=7, stop_sell=True)
    last = DateRange(dates.last, dates.end)

    async def push_and_read(adapter: ExpediaAdapter) -> tuple[object, object]:
        await adapter.push_ari(
            PushRequest("availability", (AvailabilityUpdate("20000", dates, 4),), START.date()),
            PushRequest(
                "rates",
                (
                    RateUpdate("20000", "21000", dates, values),
                    RateUpdate("20000", "21000", last, capped),
                ),
                START.date(),
            ),
        )
        rooms = await adapter.read_availability(["20000", "23000"], dates)
        rates = await adapter.read_rates([("20000", "21000"), ("23000", "24000")], dates)
        return rooms, rates

    rooms, rates = with_adapter(app, adapter_config(), push_and_read)
    assert rooms == {"20000": dict.fromkeys(dates, 4), "23000": {}}
    assert rates[("23000", "24000")] == {}  # type: ignore[index]
    held = rates[("20000", "21000")]  # type: ignore[index]
    assert set(held) == set(dates)
    assert held[dates.start] == values
    assert held[dates.last] == RateValues(
        price=Decimal("120.50"),
        min_stay_arrival=2,
        max_stay=7,
        closed_to_arrival=True,
        closed_to_departure=False,
        stop_sell=True,
    )
    counters = app.state.simulator.counters
    assert counters["parr_requests"] == 4  # 2 reads x 2 pieces
    assert counters["parr_days"] == 2 * 40

"""EQC's documented AR warning (7013) and errors over real HTTP, on SQLite and PostgreSQL.

A message EQC applies with warnings is accepted, the warnings are in the PushResult and the
sync log; a message that also carries an error is refused whole, warnings and all (issue #14).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import Engine, select

from innsync.channels.expedia import ExpediaAdapter
from innsync.channels.types import (
    AvailabilityUpdate,
    PushRequest,
    PushResult,
    RateUpdate,
    RateValues,
)
from innsync.crypto import SecretBox
from innsync.simulators.expedia import SimulatorConfig, create_app
from innsync.simulators.expedia.config import HotelSetup, RoomSetup
from innsync.simulators.expedia.verification import RateThreshold
from innsync.stay_dates import DateRange
from innsync.sync.models import DeadLetter, SyncLogEntry
from tests.channels.expedia_live import (
    HOTEL_ID,
    RATES,
    ROOMS,
    LiveExpedia,
    live_expedia,
)
from tests.channels.expedia_support import adapter_config
from tests.servers import serving
from tests.simulators.conftest import START, FakeClock

BASE_ALLOCATION = 5
# The first room holds 5 rooms for Expedia by contract (its 6 units minus a block of 2 ask
# for less); its first rate plan may not move more than 50 % at once [UNCONFIRMED threshold].
WARNING_HOTEL = HotelSetup(
    HOTEL_ID,
    tuple(
        RoomSetup(room, RATES[2 * n : 2 * n + 2], base_allocation=BASE_ALLOCATION if n == 0 else 0)
        for n, room in enumerate(ROOMS)
    ),
)


@pytest.fixture
def live(committed: Engine, secret_box: SecretBox) -> Iterator[LiveExpedia]:
    threshold = RateThreshold(max_change_percent=Decimal("50"))
    with live_expedia(
        committed, secret_box, hotels=(WARNING_HOTEL,), rate_threshold=threshold
    ) as running:
        yield running


def log_since(live: LiveExpedia, after: int) -> list[SyncLogEntry]:
    with live.sessions() as session:
        query = select(SyncLogEntry).where(SyncLogEntry.id > after).order_by(SyncLogEntry.id)
        return list(session.scalars(query))


def last_log_id(live: LiveExpedia) -> int:
    with live.sessions() as session:
        found = session.scalars(select(SyncLogEntry.id).order_by(SyncLogEntry.id.desc())).first()
        return found or 0


@pytest.mark.backends("sqlite", "postgresql")
def test_a_push_eqc_applies_with_warnings_is_accepted_and_the_warnings_logged(
    live: LiveExpedia,
) -> None:
    plan = str(live.rate_plan_ids[0])
    live.ari(
        {
            "rate_plan_id": plan,
            "date_from": live.day(0).isoformat(),
            "date_to": live.day(9).isoformat(),
            "price": "100.00",
        }
    )
    live.sync()
    assert live.counters()["warnings"] == 0
    before = last_log_id(live)

    live.ari(
        # Rate Verification: drops of 70 % and 80 % are out of the configured threshold (innsync
        # itself never sends 0.00, the documented example); the min stay beside them and the
        # 10 % change are applied.
        {
            "rate_plan_id": plan,
            "date_from": live.day(2).isoformat(),
            "date_to": live.day(4).isoformat(),
            "price": "30.00",
            "min_stay_arrival": 2,
        },
        {
            "rate_plan_id": plan,
            "date_from": live.day(6).isoformat(),
            "date_to": live.day(6).isoformat(),
            "price": "20.00",
        },
        {
            "rate_plan_id": plan,
            "date_from": live.day(7).isoformat(),
            "date_to": live.day(7).isoformat(),
            "price": "110.00",
        },
        # 6 units - 2 blocked = 4 to sell, under the base allocation of 5.
        {
            "room_type_id": str(live.room_type_ids[0]),
            "date_from": live.day(2).isoformat(),
            "date_to": live.day(3).isoformat(),
            "block": {"units": 2, "kind": "maintenance"},
        },
    )
    live.sync()

    counters = live.counters()
    assert counters["errors"] == 0
    assert counters["warnings"] == 4 + 2
    rows = log_since(live, before)
    assert {row.outcome for row in rows} == {"accepted"}
    rates = [row for row in rows if row.kind == "rates"]
    rooms = [row for row in rows if row.kind == "availability"]
    rate_detail = " ".join(row.detail for row in rates)
    room_detail = " ".join(row.detail for row in rooms)
    assert rate_detail.count("EQC warning 7013") == 4
    assert "out of threshold" in rate_detail
    assert "base allocation" not in rate_detail
    assert room_detail.count("EQC warning 7013") == 2
    assert f"below the current base allocation value ({BASE_ALLOCATION})" in room_detail
    with live.sessions() as session:
        assert session.scalars(select(DeadLetter.id)).first() is None

    held = live.sim.get("/_sim/ari", params={"hotel_id": HOTEL_ID}).json()
    days = held["rates"][f"{ROOMS[0]}/{RATES[0]}"]
    for offset in (2, 3, 4):
        assert days[live.day(offset).isoformat()]["rate"] == "100.00"  # ignored by EQC
        assert days[live.day(offset).isoformat()]["minLOS"] == 2  # applied
    assert days[live.day(6).isoformat()]["rate"] == "100.00"
    assert days[live.day(5).isoformat()]["rate"] == "100.00"
    assert days[live.day(7).isoformat()]["rate"] == "110.00"
    inventory = held["rooms"][ROOMS[0]]
    assert inventory[live.day(2).isoformat()]["inventory"] == BASE_ALLOCATION
    assert inventory[live.day(4).isoformat()]["inventory"] == 6


@pytest.mark.backends("sqlite")
def test_a_message_mixing_a_warning_and_an_error_is_refused_whole() -> None:
    app = create_app(SimulatorConfig(clock=FakeClock(START), pump_interval_seconds=None))
    today = START.date()
    nights = DateRange(today + timedelta(days=1), today + timedelta(days=3))
    zero = RateValues(price=Decimal("0"), min_stay_arrival=2)
    good_room = AvailabilityUpdate("20000", nights, 3)
    unknown_room = AvailabilityUpdate("99999", nights, 3)
    out_of_threshold = RateUpdate("20000", "21000", nights, zero)

    async def push(base_url: str) -> tuple[PushResult, PushResult]:
        config = adapter_config(
            ar_url=f"{base_url}/connect/ar",
            br_url=f"{base_url}/connect/br",
            bc_url=f"{base_url}/connect/bc",
        )
        async with httpx.AsyncClient() as http:
            adapter = ExpediaAdapter(config, http, now=app.state.simulator.now)
            return await adapter.push_ari(
                PushRequest("availability", (good_room, unknown_room), today),
                PushRequest("rates", (out_of_threshold,), today),
            )

    with serving(app) as base_url:
        rooms, rates = asyncio.run(push(base_url))

    reason = "EQC error 3203: RoomType ID 99999 is not valid"
    assert rooms.accepted_indexes == ()
    assert rates.accepted_indexes == ()
    assert set(rooms.rejected.values()) == {reason}
    assert set(rates.rejected.values()) == {reason}
    # No EQC warning: only each refusal, noted as every adapter notes it.
    assert rooms.warnings == (f"entry 0: {reason}", f"entry 1: {reason}")
    assert rates.warnings == (f"entry 0: {reason}",)
    state = app.state.simulator
    assert state.room_days == {}
    assert state.rate_days == {}
    assert state.counters["warnings"] == 0
    assert state.counters["errors"] == 1

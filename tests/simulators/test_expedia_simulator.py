"""The EQC simulator against Expedia's documented behaviour (§3.2 and the EQC documents)."""

from __future__ import annotations

import time
from datetime import date, timedelta
from decimal import Decimal

import httpx
import pytest
from fastapi import FastAPI

from innsync.channels.errors import ChannelAuthError, ChannelUnavailableError
from innsync.channels.expedia import ExpediaAdapter
from innsync.simulators.expedia import SimulatorConfig, create_app
from innsync.simulators.expedia.config import HotelSetup, RoomSetup
from innsync.simulators.expedia.verification import RateThreshold
from innsync.xmlkit.parsing import attribute, child, children, parse_xml
from tests.channels.expedia_support import adapter_config, with_adapter
from tests.servers import serving
from tests.simulators.conftest import START, TODAY, FakeClock, RecordingSleep, SimClient

AR = "http://www.expediaconnect.com/EQC/AR/2011/06"
BR = "http://www.expediaconnect.com/EQC/BR/2014/01"
BC = "http://www.expediaconnect.com/EQC/BC/2007/09"


def auth(password: str = "ECLPASS") -> str:  # noqa: S107 (the public simulator's)
    return f'<Authentication username="anyone" password="{password}"/>'


def ar(body: str, hotel: str = "211", password: str = "ECLPASS") -> str:  # noqa: S107
    head = f'<AvailRateUpdateRQ xmlns="{AR}">{auth(password)}<Hotel id="{hotel}"/>'
    return f"{head}{body}</AvailRateUpdateRQ>"


def update(first: date, last: date, room: str = "20000", inner: str = "") -> str:
    inner = inner or '<Inventory totalInventoryAvailable="4"/>'
    return (
        f'<AvailRateUpdate><DateRange from="{first}" to="{last}"/>'
        f'<RoomType id="{room}">{inner}</RoomType></AvailRateUpdate>'
    )


def br(params: str = "", namespace: str = BR, hotel: str = "211") -> str:
    head = f'<BookingRetrievalRQ xmlns="{namespace}">{auth()}<Hotel id="{hotel}"/>'
    return f"{head}{params}</BookingRetrievalRQ>"


def bc(booking_id: str, kind: str = "Book") -> str:
    return (
        f'<BookingConfirmRQ xmlns="{BC}">{auth()}<Hotel id="211"/><BookingConfirmNumbers>'
        f'<BookingConfirmNumber bookingID="{booking_id}" bookingType="{kind}" '
        f'confirmNumber="INN{booking_id}" confirmTime="2030-01-07T09:00:00Z"/>'
        "</BookingConfirmNumbers></BookingConfirmRQ>"
    )


class Eqc:
    def __init__(self, **options: object) -> None:
        self.clock = FakeClock(START)
        self.sleep = RecordingSleep()
        options.setdefault("pump_interval_seconds", None)
        self.app: FastAPI = create_app(
            SimulatorConfig(clock=self.clock, sleep=self.sleep, **options)  # type: ignore[arg-type]
        )
        self.sim = SimClient(self.app, api_key=None)

    def post(self, endpoint: str, xml: str) -> tuple[str | None, object]:
        """The error code (None on success) and the parsed answer."""
        answer = self.sim.request("POST", f"/connect/{endpoint}", content=xml.encode())
        assert answer.status_code == 200
        root = parse_xml(answer.content)
        error = child(root, "Error")
        return attribute(error, "code"), root


@pytest.fixture
def eqc() -> Eqc:
    return Eqc()


def test_the_public_simulators_hotels_answer_and_others_do_not(eqc: Eqc) -> None:
    for hotel in ("111", "211", "311", "411", "511", "611"):
        code, _ = eqc.post("br", br(hotel=hotel))
        assert code is None
    assert eqc.post("br", br(hotel="999"))[0] == "3202"


def test_only_the_special_passwords_are_taken(eqc: Eqc) -> None:
    assert eqc.post("ar", ar(update(TODAY, TODAY), password="ECLPASS"))[0] is None
    assert eqc.post("ar", ar(update(TODAY, TODAY), password="secret1"))[0] == "1001"
    assert eqc.post("ar", ar(update(TODAY, TODAY), password="ECL.DELAY"))[0] is None
    assert eqc.sleep.delays == [10.0]  # ECL.DELAY answers late, and applies
    assert eqc.post("ar", ar(update(TODAY, TODAY), password="ECL.TIMEOUT"))[0] == "4000"
    assert eqc.sleep.delays == [10.0, 130.0]  # past EQC's 120 s recommended time-out


def test_ecl_timeout_makes_the_adapter_time_out_and_ecl_delay_only_waits() -> None:
    # Real time over a loopback socket, the waits shortened: the adapter gives up first.
    app = create_app(
        SimulatorConfig(delay_seconds=0.2, timeout_seconds=2.0, pump_interval_seconds=None)
    )
    with serving(app) as url:

        async def test(adapter: ExpediaAdapter) -> None:
            await adapter.test_connection()

        def config(password: str) -> object:
            return adapter_config(
                password=password,
                timeout_seconds=1.0,
                br_url=f"{url}/connect/br",
            )

        import asyncio

        async def run(password: str) -> None:
            async with httpx.AsyncClient() as http:
                await ExpediaAdapter(config(password), http).test_connection()  # type: ignore[arg-type]

        started = time.monotonic()
        asyncio.run(run("ECL.DELAY"))
        assert time.monotonic() - started >= 0.2
        with pytest.raises(ChannelUnavailableError, match="timed out"):
            asyncio.run(run("ECL.TIMEOUT"))
        with pytest.raises(ChannelAuthError, match="1001"):
            asyncio.run(run("wrong-password"))


def test_more_than_3000_updates_are_refused_whole(eqc: Eqc) -> None:
    # FAQ: one update per value per stay date. 500 days x 6 values = 3000.
    values = (
        '<Inventory totalInventoryAvailable="4"/><RatePlan id="21000" closed="false">'
        '<Restrictions minLOS="2" maxLOS="7" closedToArrival="false" closedToDeparture="false"/>'
        "</RatePlan>"
    )
    exact = update(TODAY, TODAY + timedelta(days=499), inner=values)
    one_more = update(TODAY, TODAY, room="23000")
    code, root = eqc.post("ar", ar(exact + one_more))
    assert code == "3107"
    assert "3000 updates" in (child(root, "Error").text or "")
    assert eqc.app.state.simulator.room_days == {}  # nothing applied
    assert eqc.post("ar", ar(exact))[0] is None
    assert eqc.app.state.simulator.counters["ar_updates"] == 3000


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (update(TODAY - timedelta(days=2), TODAY), "3020"),
        (update(TODAY + timedelta(days=3), TODAY), "3021"),
        (update(TODAY, TODAY, room="99999"), "3203"),
        (
            update(TODAY, TODAY, inner='<RatePlan id="77"><Restrictions minLOS="2"/></RatePlan>'),
            "3204",
        ),
        (
            update(
                TODAY, TODAY, inner='<RatePlan id="24000"><Restrictions minLOS="2"/></RatePlan>'
            ),
            "3205",
        ),
        (update(TODAY, TODAY + timedelta(days=800)), "3022"),
    ],
)
def test_documented_ar_errors(eqc: Eqc, body: str, code: str) -> None:
    assert eqc.post("ar", ar(body))[0] == code
    assert eqc.app.state.simulator.room_days == {}


def test_yesterday_and_weekday_flags_are_taken(eqc: Eqc) -> None:
    monday = TODAY  # START is a Monday
    body = (
        f'<AvailRateUpdate><DateRange from="{monday - timedelta(days=1)}" '
        f'to="{monday + timedelta(days=13)}" mon="true" tue="false" wed="false" thu="false" '
        'fri="false" sat="false" sun="false"/><RoomType id="20000">'
        '<Inventory totalInventoryAvailable="3"/></RoomType></AvailRateUpdate>'
    )
    assert eqc.post("ar", ar(body))[0] is None
    held = eqc.app.state.simulator.room_days
    assert sorted(day for (_, _, day) in held) == [monday, monday + timedelta(days=7)]


def test_elements_outside_the_schema_are_refused(eqc: Eqc) -> None:
    stray = update(TODAY, TODAY, inner='<Inventory totalInventoryAvailable="4"/><Price/>')
    assert eqc.post("ar", ar(stray))[0] == "3010"
    assert eqc.post("br", br("<Params/>"))[0] == "3010"
    assert eqc.app.state.simulator.room_days == {}


def test_br_needs_the_current_namespace(eqc: Eqc) -> None:
    assert eqc.post("br", br(namespace="http://example.com/wrong"))[0] == "2010"


def test_transactions_come_in_sequence_and_confirm_only_once_retrieved(eqc: Eqc) -> None:
    made = eqc.sim.post("/_sim/bookings", {"hotel_id": "211"}).json()["data"][0]
    booking_id = made["booking_id"]
    assert eqc.post("bc", bc(booking_id))[0] == "3301"  # not retrieved yet
    eqc.clock.advance(seconds=10)
    eqc.sim.post(f"/_sim/bookings/{booking_id}/modify", {"nights": 4})

    _, first = eqc.post("br", br())
    assert [attribute(b, "type") for b in first.iter(f"{{{BR}}}Booking")] == ["Book"]
    _, second = eqc.post("br", br())
    assert [attribute(b, "type") for b in second.iter(f"{{{BR}}}Booking")] == ["Modify"]
    _, third = eqc.post("br", br())
    assert list(children(child(third, "Bookings"), "Booking")) == []
    _, again = eqc.post("br", br('<ParamSet><Status value="retrieved"/></ParamSet>'))
    assert len(list(children(child(again, "Bookings"), "Booking"))) == 2

    assert eqc.post("bc", bc(booking_id))[0] is None
    assert eqc.post("bc", bc(booking_id))[0] is None  # a repeat is taken again
    (booking,) = eqc.sim.get("/_sim/bookings").json()["data"]
    assert [t["status"] for t in booking["transactions"]] == ["confirmed", "retrieved"]
    assert booking["transactions"][0]["confirmations"] == 2


def test_unconfirmed_transactions_fall_back_to_fax_after_the_window(eqc: Eqc) -> None:
    made = eqc.sim.post("/_sim/bookings", {"hotel_id": "211", "count": 3}).json()["data"]
    eqc.post("br", br())
    eqc.post("bc", bc(made[0]["booking_id"]))
    eqc.clock.advance(seconds=1799)
    assert eqc.sim.post("/_sim/tick").json() == {"fallback": 0}
    eqc.clock.advance(seconds=1)
    assert eqc.sim.post("/_sim/tick").json() == {"fallback": 2}
    assert eqc.sim.get("/_sim/counters").json()["fallback"] == 2
    _, root = eqc.post("br", br('<ParamSet><Status value="retrieved"/></ParamSet>'))
    assert list(children(child(root, "Bookings"), "Booking")) == []


def test_the_request_log_keeps_whole_bodies(eqc: Eqc) -> None:
    eqc.post("br", br())
    (row,) = eqc.sim.get("/_sim/requests", params={"bodies": "1"}).json()["data"]
    assert 'password="ECLPASS"' in row["body"]
    assert row["path"] == "/connect/br"


def test_injected_faults_answer_before_the_handler(eqc: Eqc) -> None:
    eqc.sim.post("/_sim/faults", {"server_error_rate": 1.0})
    answer = eqc.sim.request("POST", "/connect/br", content=br().encode())
    assert answer.status_code in (500, 502, 503)
    assert eqc.app.state.simulator.counters["br_requests"] == 0


def test_an_adapter_sees_a_pending_booking_once_then_as_retrieved() -> None:
    eqc = Eqc()
    eqc.sim.post("/_sim/bookings", {"hotel_id": "211", "count": 1})

    async def pull_twice(adapter: ExpediaAdapter) -> tuple[int, int]:
        first = await adapter.pull_revisions(None)
        second = await adapter.pull_revisions(None)
        return len(first.revisions), len(second.revisions)

    assert with_adapter(eqc.app, adapter_config(), pull_twice) == (1, 1)


def rate_plan(rate: str, plan: str = "21000", restrictions: str = "") -> str:
    return (
        f'<RatePlan id="{plan}"><Rate currency="USD"><PerDay rate="{rate}"/></Rate>'
        f"{restrictions}</RatePlan>"
    )


def warnings_of(root: object) -> list[tuple[str | None, str]]:
    success = child(root, "Success")  # type: ignore[arg-type]
    assert success is not None
    return [(attribute(w, "code"), w.text or "") for w in children(success, "Warning")]


def test_rates_out_of_threshold_are_ignored_with_warning_7013_and_the_rest_applied(
    eqc: Eqc,
) -> None:
    # AR examples, "Success with warning": the 0.00 rates are ignored, the restrictions and
    # the other rate plan's rate are applied.
    inner = rate_plan("0.00", restrictions='<Restrictions closedToDeparture="true"/>')
    inner += rate_plan("61.00", plan="22000")
    code, root = eqc.post("ar", ar(update(TODAY, TODAY + timedelta(days=2), inner=inner)))
    assert code is None
    found = warnings_of(root)
    assert [c for c, _ in found] == ["7013"] * 3
    assert "[Room Type ID 20000; Rate Plan ID 21000; Stay Date " + str(TODAY) in found[0][1]
    assert "out of threshold" in found[0][1]
    held = eqc.app.state.simulator.rate_days
    assert held[("211", "20000", "21000", TODAY)] == {"closedToDeparture": True}
    assert held[("211", "20000", "22000", TODAY)] == {"rate": "61.00"}
    assert eqc.app.state.simulator.counters["warnings"] == 3


def test_a_configured_rate_change_limit_refuses_big_jumps_only() -> None:
    eqc = Eqc(rate_threshold=RateThreshold(max_change_percent=Decimal("50")))
    assert eqc.post("ar", ar(update(TODAY, TODAY, inner=rate_plan("100.00"))))[0] is None
    code, root = eqc.post("ar", ar(update(TODAY, TODAY, inner=rate_plan("40.00"))))
    assert code is None
    assert len(warnings_of(root)) == 1
    assert eqc.post("ar", ar(update(TODAY, TODAY, inner=rate_plan("140.00"))))[0] is None
    assert eqc.app.state.simulator.rate_days[("211", "20000", "21000", TODAY)]["rate"] == "140.00"


def test_inventory_below_the_base_allocation_is_capped_with_7013() -> None:
    hotel = HotelSetup("211", (RoomSetup("20000", ("21000",), base_allocation=3),))
    eqc = Eqc(hotels=(hotel,))
    code, root = eqc.post(
        "ar",
        ar(
            update(
                TODAY, TODAY + timedelta(days=1), inner=('<Inventory totalInventoryAvailable="1"/>')
            )
        ),
    )
    assert code is None
    found = warnings_of(root)
    assert len(found) == 2
    assert "below the current base allocation value (3)" in found[0][1]
    held = eqc.app.state.simulator.room_days
    assert held[("211", "20000", TODAY)]["inventory"] == 3
    # Flexible allocation is on top of the base allocation: never capped.
    flexible = '<Inventory flexibleAllocation="1"/>'
    code, root = eqc.post("ar", ar(update(TODAY, TODAY, inner=flexible)))
    assert code is None
    assert warnings_of(root) == []


def test_at_most_20_warnings_per_code_the_last_naming_the_rest(eqc: Eqc) -> None:
    code, root = eqc.post(
        "ar", ar(update(TODAY, TODAY + timedelta(days=24), inner=rate_plan("0.00")))
    )
    assert code is None
    found = warnings_of(root)
    assert len(found) == 20
    assert found[0][1].startswith("Warning 1 out of 25 for this cause.")
    assert "Remaining 5 warnings will not be returned" in found[19][1]
    assert "Remaining" not in found[18][1]
    assert eqc.app.state.simulator.counters["warnings"] == 25


def test_a_message_with_an_error_is_refused_whole_without_warnings(eqc: Eqc) -> None:
    # AR RS: Success (possibly with warnings) or Error, never both; nothing is applied.
    body = update(TODAY, TODAY, inner=rate_plan("0.00")) + update(TODAY, TODAY, room="99999")
    code, root = eqc.post("ar", ar(body))
    assert code == "3203"
    assert child(root, "Success") is None  # type: ignore[arg-type]
    assert eqc.app.state.simulator.rate_days == {}
    assert eqc.app.state.simulator.counters["warnings"] == 0


PAR = "http://www.expediaconnect.com/EQC/PAR/2013/07"


def parr(params: str, hotel: str = "211") -> str:
    head = f'<ProductAvailRateRetrievalRQ xmlns="{PAR}">{auth()}<Hotel id="{hotel}"/>'
    return f"{head}<ParamSet>{params}</ParamSet></ProductAvailRateRetrievalRQ>"


def avail_rate_dates(root: object) -> list[str]:
    listing = child(root, "AvailRateList")  # type: ignore[arg-type]
    assert listing is not None
    return [attribute(day, "date") or "" for day in children(listing, "AvailRate")]


def test_parr_answers_31_days_for_many_products_and_365_for_one_rate_plan(eqc: Eqc) -> None:
    last = TODAY + timedelta(days=399)
    loaded = update(TODAY, last, inner='<Inventory totalInventoryAvailable="4"/>' + rate_plan("90"))
    assert eqc.post("ar", ar(loaded))[0] is None

    code, root = eqc.post("parr", parr(f'<AvailRateRetrieval from="{TODAY}" to="{last}"/>'))
    assert code is None
    dates = avail_rate_dates(root)
    assert len(dates) == 31
    assert dates[0] == str(TODAY)

    one_plan = (
        f'<AvailRateRetrieval from="{TODAY}" to="{last}">'
        '<RoomType id="20000"><RatePlan id="21000"/></RoomType></AvailRateRetrieval>'
    )
    code, root = eqc.post("parr", parr(one_plan))
    assert code is None
    assert len(avail_rate_dates(root)) == 365
    assert eqc.app.state.simulator.counters["parr_days"] == 31 + 365


def test_parr_filters_leave_out_what_is_not_asked(eqc: Eqc) -> None:
    loaded = update(
        TODAY,
        TODAY,
        inner='<Inventory totalInventoryAvailable="4"/>'
        + rate_plan("90", restrictions='<Restrictions minLOS="2"/>'),
    )
    assert eqc.post("ar", ar(loaded))[0] is None
    rooms_only = (
        f'<AvailRateRetrieval from="{TODAY}" to="{TODAY}" rates="false" restrictions="false" '
        'rateAvailStatus="false"/>'
    )
    code, root = eqc.post("parr", parr(rooms_only))
    assert code is None
    listing = child(root, "AvailRateList")  # type: ignore[arg-type]
    assert listing is not None
    room = child(child(listing, "AvailRate"), "RoomType")  # type: ignore[arg-type]
    assert room is not None
    assert attribute(child(room, "Inventory"), "totalInventoryAvailable") == "4"
    plan = child(room, "RatePlan")
    assert plan is not None
    assert child(plan, "Rate") is None
    assert child(plan, "Restrictions") is None
    assert (
        eqc.post("parr", parr('<ProductRetrieval/><AvailRateRetrieval from="x" to="y"/>'))[0]
        == "3010"
    )
    unknown = (
        f'<AvailRateRetrieval from="{TODAY}" to="{TODAY}"><RoomType id="9"/></AvailRateRetrieval>'
    )
    assert eqc.post("parr", parr(unknown))[0] == "3203"


def test_parr_product_retrieval_lists_the_hotels_room_types_and_rate_plans(eqc: Eqc) -> None:
    code, root = eqc.post("parr", parr("<ProductRetrieval/>"))
    assert code is None
    products = child(root, "ProductList")  # type: ignore[arg-type]
    assert products is not None
    listed = {
        attribute(room, "id"): [attribute(plan, "id") for plan in children(room, "RatePlan")]
        for room in children(products, "RoomType")
    }
    assert listed == {"20000": ["21000", "21000A", "22000"], "23000": ["24000", "24000A", "25000"]}

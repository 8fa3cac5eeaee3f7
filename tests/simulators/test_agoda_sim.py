"""The Agoda simulator against the notes (§3.3), spoken to directly over ASGI."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from innsync.simulators.agoda import SimulatorConfig, create_app
from innsync.xmlkit.parsing import attribute, parse_xml, path
from tests.simulators.conftest import START, FakeClock, SimClient

KEY = "agoda-sim-key"
PROPERTY = "226110"
# 09:00 UTC is 16:00 in ICT: Agoda's today is START's date.
TODAY = START.date()


class Sim:
    def __init__(self, **options: Any) -> None:
        self.clock = FakeClock(START)
        self.app = create_app(
            SimulatorConfig(seed=1, clock=self.clock, pump_interval_seconds=None, **options)
        )
        self.client = SimClient(self.app, api_key=None)

    def call(self, body: str, key: str = KEY) -> httpx.Response:
        return self.client.request("POST", "/api", content=body.encode(), params={"apiKey": key})

    def book(self, **fields: Any) -> str:
        answer = self.client.post("/_sim/bookings", fields)
        assert answer.status_code == 201, answer.text
        booking_id: str = answer.json()["data"]["booking_id"]
        return booking_id


def day(offset: int) -> str:
    return (TODAY + timedelta(days=offset)).isoformat()


def set_ari(*updates: str, rates: str = "") -> str:
    inventory = f"<inventory>{''.join(updates)}</inventory>" if updates else ""
    rate = f"<rate>{rates}</rate>" if rates else ""
    return (
        f'<request timestamp="1" type="10"><criteria property_id="{PROPERTY}">'
        f"{inventory}{rate}</criteria></request>"
    )


def allotment(room: str, start: int, end: int, units: int, flags: str = "") -> str:
    return (
        f'<update room_id="{room}"><date_range from="{day(start)}" to="{day(end)}" {flags}/>'
        f"<allotment>{units}</allotment></update>"
    )


def test_a_wrong_key_is_401_and_the_key_is_masked_in_the_request_log() -> None:
    sim = Sim()
    refused = sim.call(set_ari(allotment("8179851", 0, 1, 2)), key="wrong")
    assert refused.status_code == 401
    assert attribute(next(parse_xml(refused.content).iter("error")), "code") == "1001"
    assert sim.call(set_ari(allotment("8179851", 0, 1, 2))).status_code == 200
    rows = sim.client.get("/_sim/requests", {"bodies": "1"}).json()["data"]
    assert [row["status"] for row in rows] == [401, 200]
    assert KEY not in str(rows)
    assert "apiKey=***" in rows[1]["query"]


def test_set_ari_applies_weekday_flags_and_warns_per_update() -> None:
    sim = Sim()
    weekends = 'mon="false" tue="false" wed="false" thu="false" fri="false"'
    answer = sim.call(
        set_ari(
            allotment("8179851", 0, 13, 4, weekends),
            allotment("9999999", 0, 1, 9),
            allotment("8179852", -1, 1, 7),
            allotment("8179853", 729, 730, 7),
            rates=(
                f'<update room_id="8179851" rateplan_id="937901"><date_values><date_range '
                f'from="{day(0)}" to="{day(2)}"/></date_values><prices currency="USD">'
                "<price>90.00</price><occupancy><person>2</person><price>110.00</price>"
                '</occupancy></prices><restrictions cta="true" min_los="2"/></update>'
            ),
        )
    )
    root = parse_xml(answer.content)
    assert next(root.iter("success"), None) is not None
    warned = [(attribute(w, "room_id"), attribute(w, "code")) for w in root.iter("warning")]
    assert warned == [("9999999", "3001"), ("8179852", "3001"), ("8179853", "3001")]
    held = sim.client.get("/_sim/ari").json()["data"][PROPERTY]
    weekend_days = [d for d in range(14) if (TODAY + timedelta(days=d)).weekday() >= 5]
    assert sorted(held["availability"]["8179851"]) == [day(d) for d in weekend_days]
    assert set(held["availability"]) == {"8179851"}
    assert held["prices"]["8179851"]["937901"][day(1)] == {"room": "90.00", "2": "110.00"}
    assert held["restrictions"]["8179851"]["937901"][day(2)] == {"cta": True, "min_los": 2}


def test_a_body_over_1_mb_is_413_and_logged_with_its_size() -> None:
    sim = Sim()
    padding = "<!-- -->" * 130_000
    answer = sim.call(set_ari(allotment("8179851", 0, 1, 2)) + padding)
    assert answer.status_code == 413
    (row,) = sim.client.get("/_sim/requests").json()["data"]
    assert row["body_bytes"] > 1_000_000
    assert sim.client.get("/_sim/ari").json()["data"] == {}


def listing(start: str, end: str, properties: str = f'<property id="{PROPERTY}"/>') -> str:
    return (
        f'<request timestamp="1" type="3"><criteria from="{start}" to="{end}">'
        f"{properties}</criteria></request>"
    )


def error_of(answer: httpx.Response) -> str | None:
    return attribute(next(parse_xml(answer.content).iter("error"), None), "description")


def test_the_booking_list_keeps_to_its_window_limits() -> None:
    sim = Sim()
    booking_id = sim.book(room_id="8179851", rateplan_id="937901")
    now = START
    inside = sim.call(listing((now - timedelta(hours=1)).isoformat(), now.isoformat()))
    (listed,) = path(parse_xml(inside.content), "properties", "property", "bookings", "booking")
    assert (attribute(listed, "booking_id"), attribute(listed, "acknowledge")) == (booking_id, "0")
    assert str(attribute(listed, "last_action")).endswith("+07:00")  # ICT, §3.3
    too_long = sim.call(listing((now - timedelta(days=91)).isoformat(), now.isoformat()))
    assert "longer than 90 days" in str(error_of(too_long))
    too_old = sim.call(
        listing((now - timedelta(days=741)).isoformat(), (now - timedelta(days=700)).isoformat())
    )
    assert "740 days back" in str(error_of(too_old))
    six = "".join(f'<property id="{n}"/>' for n in range(6))
    assert "1 to 5 properties" in str(
        error_of(sim.call(listing(now.isoformat(), now.isoformat(), six)))
    )
    naive = sim.call(listing("2030-01-07T08:00:00", "2030-01-07T09:00:00"))
    assert "UTC offset" in str(error_of(naive))


def detail(ids: list[str], properties: int = 1) -> str:
    holder = f'<property id="{PROPERTY}">' + "".join(f'<booking id="{i}"/>' for i in ids)
    holder += "</property>"
    return (
        f'<request timestamp="1" type="4"><criteria language="EN">{holder * properties}'
        "</criteria></request>"
    )


def test_retrieving_the_detail_acknowledges_and_an_unretrieved_booking_falls_back() -> None:
    sim = Sim()
    first = sim.book(room_id="8179851", rateplan_id="937901", room_count=2, nightly_price="80.00")
    second = sim.book()
    assert "1 to 50 bookings" in str(error_of(sim.call(detail([first] * 51))))
    assert "exactly one property" in str(error_of(sim.call(detail([first], properties=2))))
    answer = sim.call(detail([first, "999"]))
    (booking,) = path(parse_xml(answer.content), "bookings", "booking")
    assert (attribute(booking, "booking_id"), attribute(booking, "room_count")) == (first, "2")
    prices = next(booking.iter("prices"))
    nights = len(list(prices))
    assert attribute(prices, "sell_inclusive_amt") == f"{160 * nights:.2f}"
    sim.clock.advance(seconds=1799)
    assert sim.client.get("/_sim/counters").json()["fell_back_to_email"] == 0
    sim.clock.advance(seconds=1)
    counters = sim.client.get("/_sim/counters").json()
    assert (counters["acknowledged"], counters["fell_back_to_email"]) == (1, 1)
    actions = sim.client.get("/_sim/bookings").json()["actions"]
    assert [(a["booking_id"], a["acknowledged"], a["fell_back"]) for a in actions] == [
        (first, True, False),
        (second, False, True),
    ]


def test_hints_are_retried_three_times_15_s_apart_then_emailed() -> None:
    received: list[httpx.Request] = []

    def failing(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(500)

    sim = Sim(
        hint_url="http://innsync.test/hooks/t",
        hint_transport=httpx.MockTransport(failing),
        hint_secret="hint-secret",
    )
    booking_id = sim.book()
    sim.clock.advance(seconds=59)
    assert sim.client.post("/_sim/tick", {}).json()["hints_failed"] == 0  # not on schedule yet
    sim.clock.advance(seconds=1)
    for _ in range(4):
        assert sim.client.post("/_sim/tick", {}).json()["hints_failed"] == 1
        assert sim.client.post("/_sim/tick", {}).json()["hints_failed"] == 0  # 15 s apart
        sim.clock.advance(seconds=15)
    assert sim.client.post("/_sim/tick", {}).json()["hints_failed"] == 0
    assert len(received) == 4
    assert received[0].headers["x-agoda-hint-secret"] == "hint-secret"
    (hinted,) = path(parse_xml(received[0].content), "property", "bookings", "booking")
    assert attribute(hinted, "booking_id") == booking_id
    counters = sim.client.get("/_sim/counters").json()
    assert (counters["hints_failed"], counters["hint_lists_emailed"]) == (4, 1)
    assert [a["hint"] for a in sim.client.get("/_sim/bookings").json()["actions"]] == ["emailed"]


@pytest.mark.parametrize("limit", [3])
def test_past_the_calls_a_minute_the_simulator_answers_429(limit: int) -> None:
    sim = Sim(calls_per_minute=limit)
    body = set_ari(allotment("8179851", 0, 1, 2))
    assert [sim.call(body).status_code for _ in range(limit + 1)] == [200] * limit + [429]
    sim.clock.advance(seconds=60)
    assert sim.call(body).status_code == 200

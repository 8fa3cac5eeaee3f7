"""The Beds24 simulator against the documented behaviour (beds24.md §2.2-§2.8), without the
adapter; its answers are checked against Beds24's OpenAPI file too."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from innsync.simulators.beds24 import SimulatorConfig, create_app
from tests.channels.beds24_openapi import RecordingTransport

START = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


class Sim:
    def __init__(self, **options: Any) -> None:
        self.clock = Clock()
        self.delivered: list[httpx.Request] = []
        self.webhook_status = 200

        def receive(request: httpx.Request) -> httpx.Response:
            self.delivered.append(request)
            return httpx.Response(self.webhook_status)

        config = SimulatorConfig(
            clock=self.clock,
            pump_interval_seconds=None,
            webhook_url="https://pms.example/hook",
            webhook_custom_header="X-Secret: abc123",
            webhook_delay_seconds=0,
            webhook_transport=httpx.MockTransport(receive),
            **options,
        )
        self.transport = RecordingTransport(httpx.ASGITransport(app=create_app(config)))
        self.token = ""

    def call(self, method: str, path: str, *, body: Any = None, **headers: str) -> httpx.Response:
        async def go() -> httpx.Response:
            async with httpx.AsyncClient(transport=self.transport, base_url="http://sim") as http:
                sent = {"token": self.token, **headers} if self.token else headers
                return await http.request(method, path, json=body, headers=sent)

        return asyncio.run(go())

    def login(self) -> None:
        answer = self.call("GET", "/v2/authentication/token", refreshToken="sim-refresh-token")
        assert answer.status_code == 200, answer.text
        self.token = answer.json()["token"]


@pytest.fixture
def sim() -> Iterator[Sim]:
    built = Sim()
    yield built
    # Some requests here are bad on purpose; every answer must still follow the OpenAPI file.
    assert built.transport.response_problems() == []


def test_an_invite_code_works_once_and_tokens_expire(sim: Sim) -> None:
    first = sim.call("GET", "/v2/authentication/setup", code="sim-invite-code-1")
    assert first.status_code == 200
    assert set(first.json()) == {"token", "expiresIn", "refreshToken"}
    assert 152 <= len(first.json()["token"]) <= 172
    again = sim.call("GET", "/v2/authentication/setup", code="sim-invite-code-1")
    assert again.status_code == 400
    sim.token = first.json()["token"]
    assert sim.call("GET", "/v2/properties").status_code == 200
    sim.clock.now += timedelta(seconds=first.json()["expiresIn"])
    refused = sim.call("GET", "/v2/properties")
    assert refused.status_code == 401
    assert refused.json() == {
        "success": False,
        "type": "error",
        "code": 401,
        "error": "Token not valid",
    }


def test_credits_are_metered_in_headers_and_refused_past_the_window() -> None:
    sim = Sim(credits_per_window=3)
    sim.login()  # 1 credit
    first = sim.call("GET", "/v2/properties")
    assert first.headers["x-five-min-limit-remaining"] == "1"
    assert first.headers["x-request-cost"] == "1"
    assert first.headers["x-five-min-limit-resets-in"] == "300"
    sim.clock.now += timedelta(seconds=100)
    assert sim.call("GET", "/v2/properties").status_code == 200
    refused = sim.call("GET", "/v2/properties")
    assert refused.status_code == 429
    assert refused.json() == {"success": False}
    assert "retry-after" not in refused.headers
    assert refused.headers["x-five-min-limit-resets-in"] == "200"
    sim.clock.now += timedelta(seconds=200)
    assert sim.call("GET", "/v2/properties").status_code == 200
    assert sim.transport.problems() == []


def test_the_calendar_refuses_a_bad_item_whole_and_reads_back_merged_ranges(sim: Sim) -> None:
    sim.login()
    body = [
        {"roomId": 201, "calendar": [{"from": "2030-02-01", "to": "2030-02-03", "numAvail": 2,
                                      "price1": 80}]},
        {"roomId": 201, "calendar": [{"from": "2030-02-02", "to": "2030-02-02", "price1": 99}]},
        {"roomId": 202, "calendar": [{"from": "2030-02-01", "to": "2030-02-01", "minStay": 0}]},
        {"roomId": 999, "calendar": []},
    ]  # fmt: skip
    answer = sim.call("POST", "/v2/inventory/rooms/calendar", body=body)
    assert answer.status_code == 201
    assert [item["success"] for item in answer.json()] == [True, True, False, False]
    assert answer.json()[2]["errors"][0]["field"] == "calendar[0].minStay"
    read = sim.call(
        "GET",
        "/v2/inventory/rooms/calendar?startDate=2030-02-01&endDate=2030-02-05&roomId=201&roomId=202"
        "&includePrices=true&includeNumAvail=true",
    )
    rooms = {room["roomId"]: room["calendar"] for room in read.json()["data"]}
    assert rooms[201] == [
        {"from": "2030-02-01", "to": "2030-02-01", "numAvail": 2, "price1": 80},
        {"from": "2030-02-02", "to": "2030-02-02", "numAvail": 2, "price1": 99},
        {"from": "2030-02-03", "to": "2030-02-03", "numAvail": 2, "price1": 80},
    ]
    assert rooms[202] == []
    bare = sim.call("GET", "/v2/inventory/rooms/calendar?startDate=2030-02-01&endDate=2030-02-05")
    assert all(room["calendar"] == [] for room in bare.json()["data"])


def test_bookings_default_to_upcoming_and_uncancelled_and_page_by_100(sim: Sim) -> None:
    sim.login()
    created = sim.call(
        "POST",
        "/v2/bookings",
        body=[
            {"roomId": 201, "arrival": "2030-02-01", "departure": "2030-02-03",
             "apiReference": "A-1"},
            {"roomId": 201, "arrival": "2030-02-01"},
        ],
    )  # fmt: skip
    assert created.status_code == 201
    made, refused = created.json()
    assert made["success"] is True
    assert refused["success"] is False
    assert refused["errors"][0]["field"] == "departure"
    booking_id = made["new"]["id"]
    cancel = {"id": booking_id, "status": "cancelled", "roomId": 201}
    dates = {"arrival": "2030-02-01", "departure": "2030-02-03"}
    sim.call("POST", "/v2/bookings", body=[{**cancel, **dates}])
    assert sim.call("GET", "/v2/bookings").json()["data"] == []
    cancelled = sim.call("GET", "/v2/bookings?status=cancelled&apiReference=A-1").json()["data"]
    assert [(b["id"], b["status"]) for b in cancelled] == [(booking_id, "cancelled")]
    assert cancelled[0]["cancelTime"] == cancelled[0]["modifiedTime"]
    generated = sim.call("POST", "/_sim/bookings/generate", body={"count": 120})
    assert len(generated.json()["data"]) == 120
    first = sim.call("GET", "/v2/bookings").json()
    assert (first["count"], first["pages"]["nextPageExists"]) == (100, True)
    second = sim.call("GET", "/v2/bookings?page=2").json()
    assert (second["count"], second["pages"]["nextPageExists"]) == (20, False)


def test_webhooks_carry_the_custom_header_and_are_retried_after_a_failure(sim: Sim) -> None:
    sim.webhook_status = 500
    stay = {"roomId": 202, "arrival": "2030-02-01", "departure": "2030-02-02"}
    made = sim.call("POST", "/_sim/bookings", body=stay)
    booking_id = made.json()["data"][0]["id"]
    (first,) = sim.delivered
    assert first.headers["x-secret"] == "abc123"
    payload = json.loads(first.content)
    assert set(payload) == {
        "timeStamp",
        "booking",
        "infoItems",
        "invoiceItems",
        "messages",
        "retries",
    }
    assert payload["booking"]["id"] == booking_id
    sim.webhook_status = 200
    sim.clock.now += timedelta(seconds=60)
    sim.call("POST", "/_sim/tick")
    assert len(sim.delivered) == 2
    assert json.loads(sim.delivered[1].content)["retries"] == 1
    deliveries = sim.call("GET", "/_sim/webhooks/deliveries").json()["data"]
    assert [d["status"] for d in deliveries] == ["delivered"]
    # The request log never shows the token or the webhook secret.
    logged = json.dumps(sim.call("GET", "/_sim/requests?bodies=1").json())
    assert "abc123" not in logged


def test_api_changes_fire_webhooks_only_when_asked(sim: Sim) -> None:
    sim.login()
    plain = {"roomId": 201, "arrival": "2030-02-01", "departure": "2030-02-02"}
    sim.call("POST", "/v2/bookings", body=[plain])
    assert sim.delivered == []
    sim.call("POST", "/v2/bookings", body=[{**plain, "actions": {"allowWebhooks": True}}])
    assert len(sim.delivered) == 1


def test_check_availability_refuses_a_closed_night(sim: Sim) -> None:
    sim.login()
    sim.call(
        "POST",
        "/v2/inventory/rooms/calendar",
        body=[{"roomId": 201, "calendar": [{"from": "2030-02-02", "numAvail": 0}]}],
    )
    answer = sim.call(
        "POST",
        "/v2/bookings",
        body=[
            {
                "roomId": 201,
                "arrival": "2030-02-01",
                "departure": "2030-02-03",
                "actions": {"checkAvailability": True},
            }
        ],
    )
    assert answer.json()[0]["success"] is False
    assert sim.call("GET", "/_sim/bookings").json()["data"] == []


def test_lifting_a_blackout_without_num_avail_sets_the_room_maximum(sim: Sim) -> None:
    """§2.6: override blackout to none without numAvail in the same entry: numAvail = qty."""
    sim.login()
    maximum = SimulatorConfig().room(201)
    assert maximum is not None
    days = ("2030-03-01", "2030-03-02", "2030-03-03")

    def post(*entries: dict[str, Any]) -> None:
        answer = sim.call(
            "POST", "/v2/inventory/rooms/calendar", body=[{"roomId": 201, "calendar": entries}]
        )
        assert answer.json()[0]["success"] is True

    def held() -> list[Any]:
        read = sim.call(
            "GET",
            f"/v2/inventory/rooms/calendar?startDate={days[0]}&endDate={days[-1]}&roomId=201"
            "&includeNumAvail=true",
        )
        by_day = {}
        for entry in read.json()["data"][0]["calendar"]:
            for day in days:
                if entry["from"] <= day <= entry["to"]:
                    by_day[day] = entry["numAvail"]
        return [by_day[day] for day in days]

    post({"from": days[0], "to": days[-1], "numAvail": 2, "override": "blackout"})
    post({"from": days[0], "to": days[0], "override": "none"})
    post({"from": days[1], "to": days[1], "override": "none", "numAvail": 2})
    post({"from": days[2], "to": days[2], "override": "noCheckIn"})
    post({"from": days[2], "to": days[2], "override": "none"})
    assert held() == [maximum[1].qty, 2, 2]
    assert sim.transport.problems() == []

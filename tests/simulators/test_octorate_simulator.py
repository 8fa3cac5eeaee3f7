"""The Octorate simulator against the documented behaviour (octorate.md §2.2-§2.7), without the
adapter: the OAuth dance over its authorization page, quota, reservations and the hotel actor,
subscriptions and the double-encoded calendar webhook, the /_sim/ control plane."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import replace
from datetime import date, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import anyio
import httpx
import pytest
from click.testing import CliRunner
from fastapi import FastAPI, Request
from hypothesis import given, settings
from hypothesis import strategies as st

from innsync.cli.main import cli
from innsync.simulators.octorate import SimulatorConfig, create_app
from innsync.simulators.octorate.config import OwnerSpec
from tests.servers import serving
from tests.simulators.conftest import START, FakeClock, Receiver, RecordingSleep

CLIENT_ID = "public_test_app"
CLIENT_SECRET = "secret_test_app"
REDIRECT = "https://marketplace.example/octorate/callback"
HOOK = "https://marketplace.example/hooks/octorate"
AUTHORIZE = "/octobook/identity/oauth.xhtml"
API = "/connect/rest/v1"


class Octo:
    """One simulator, its clock and a webhook receiver; synchronous calls over ASGI."""

    def __init__(self, **overrides: Any) -> None:
        self.clock = FakeClock(START)
        self.receiver = Receiver()
        config = SimulatorConfig(
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            redirect_uris=(REDIRECT,),
            seed=3,
            clock=self.clock,
            sleep=RecordingSleep(),
            webhook_transport=httpx.MockTransport(self.receiver.handle),
            pump_interval_seconds=None,
        )
        self.config = replace(config, **overrides)
        self.app = create_app(self.config)
        self.token = ""

    def call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        form: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        token: str | None = None,
    ) -> httpx.Response:
        bearer = self.token if token is None else token
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}

        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://sim") as http:
                return await http.request(
                    method, path, json=body, data=form, params=params, headers=headers
                )

        return anyio.run(go)

    def approve(self, state: str = "s-1", username: str = "owner") -> dict[str, list[str]]:
        """The owner signs in and approves; the query the browser is sent back with."""
        answer = self.call(
            "POST",
            AUTHORIZE,
            form={
                "client_id": CLIENT_ID,
                "redirect_uri": REDIRECT,
                "state": state,
                "username": username,
                "password": "owner-password",
                "decision": "approve",
            },
        )
        assert answer.status_code == 302, answer.text
        location = answer.headers["location"]
        assert location.startswith(REDIRECT + "?")
        return parse_qs(urlsplit(location).query)

    def exchange(self, code: str, **extra: str) -> httpx.Response:
        fields = {
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "redirect_uri": REDIRECT,
            "grant_type": "code",
            "code": code,
            **extra,
        }
        return self.call("POST", f"{API}/identity/token", form=fields)

    def connect(self) -> dict[str, Any]:
        """The whole dance; the token answer, its access token kept for later calls."""
        code = self.approve()["code"][0]
        answer = self.exchange(code)
        assert answer.status_code == 200, answer.text
        self.token = answer.json()["access_token"]
        tokens: dict[str, Any] = answer.json()
        return tokens

    def tick(self) -> dict[str, int]:
        answer = self.call("POST", "/_sim/tick")
        assert answer.status_code == 200
        counts: dict[str, int] = answer.json()
        return counts

    def subscribe(self, event: str, url: str = HOOK) -> dict[str, Any]:
        answer = self.call("POST", f"{API}/subscription/{event}", form={"url": url})
        assert answer.status_code == 200, answer.text
        subscription: dict[str, Any] = answer.json()
        return subscription

    def push(self, refer: str, **fields: Any) -> httpx.Response:
        body = {
            "refer": refer,
            "channelId": 9999,
            "status": "CONFIRMED",
            "product": 50111,
            "checkin": "2030-02-10T02:00:00Z[UTC]",
            "checkout": "2030-02-12T02:00:00Z[UTC]",
            "totalGuest": 2,
            "guests": [{"type": "BOOKER", "givenName": "Ann", "familyName": "Smith"}],
            **fields,
        }
        return self.call("POST", f"{API}/reservation/501", body=body)


@pytest.fixture
def octo() -> Octo:
    return Octo()


def test_the_authorization_page_is_a_form_that_carries_the_state(octo: Octo) -> None:
    params = {"client_id": CLIENT_ID, "redirect_uri": REDIRECT, "state": 'x"<y>'}
    page = octo.call("GET", AUTHORIZE, params=params)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert f'action="{AUTHORIZE}"' in page.text
    assert 'name="state" value="x&quot;&lt;y&gt;"' in page.text
    assert 'value="approve"' in page.text
    assert 'value="deny"' in page.text
    stranger = octo.call("GET", AUTHORIZE, params={**params, "client_id": "someone-else"})
    assert stranger.status_code == 400
    assert "Unknown client_id" in stranger.text
    elsewhere = {**params, "redirect_uri": "https://evil.example/cb"}
    assert octo.call("GET", AUTHORIZE, params=elsewhere).status_code == 400


def test_the_oauth_dance_echoes_state_and_issues_tokens_with_an_absolute_expiry(
    octo: Octo,
) -> None:
    state = "opaque state/with &=+ characters é"
    query = octo.approve(state=state)
    assert query["state"] == [state]
    answer = octo.exchange(query["code"][0])
    assert answer.status_code == 200, answer.text
    tokens = answer.json()
    assert set(tokens) == {"access_token", "refresh_token", "expireDate"}
    assert tokens["expireDate"] == (START + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    octo.token = tokens["access_token"]
    listed = octo.call("GET", f"{API}/accommodation")
    assert listed.status_code == 200
    assert [a["id"] for a in listed.json()] == ["501", "502"]
    # A code works once.
    replay = octo.exchange(query["code"][0])
    assert replay.status_code == 400
    assert replay.json()["type"] == "ApiValidationFailed"


def test_a_denial_redirects_with_access_denied_and_the_state(octo: Octo) -> None:
    answer = octo.call(
        "POST",
        AUTHORIZE,
        form={"client_id": CLIENT_ID, "redirect_uri": REDIRECT, "state": "s-9", "decision": "deny"},
    )
    assert answer.status_code == 302
    assert parse_qs(urlsplit(answer.headers["location"]).query) == {
        "error": ["access_denied"],
        "state": ["s-9"],
    }
    wrong = octo.call(
        "POST",
        AUTHORIZE,
        form={
            "client_id": CLIENT_ID,
            "redirect_uri": REDIRECT,
            "username": "owner",
            "password": "wrong",
            "decision": "approve",
        },
    )
    assert wrong.status_code == 401
    assert octo.app.state.simulator.grants == {}


def test_a_code_is_valid_for_sixty_seconds_only(octo: Octo) -> None:
    on_time = octo.approve(state="a")["code"][0]
    late = octo.approve(state="b")["code"][0]
    octo.clock.advance(seconds=60)
    assert octo.exchange(on_time).status_code == 200
    octo.clock.advance(seconds=1)
    refused = octo.exchange(late)
    assert refused.status_code == 400
    assert refused.json() == {
        "type": "ApiValidationFailed",
        "message": "code expired",
        "status": 400,
    }


def test_the_code_exchange_checks_the_app_credentials_grant_and_redirect(octo: Octo) -> None:
    code = octo.approve()["code"][0]
    wrong_secret = octo.exchange(code, client_secret="nope")
    assert wrong_secret.status_code == 401
    assert wrong_secret.json()["type"] == "ApiKeyInvalid"
    assert octo.exchange(code, grant_type="password").json()["type"] == "ApiParamsExemption"
    other_uri = octo.exchange(code, redirect_uri="https://marketplace.example/other")
    assert other_uri.status_code == 400
    # None of the refusals used the code up.
    assert octo.exchange(code, grant_type="authorization_code").status_code == 200
    not_a_form = octo.call("POST", f"{API}/identity/token", body={"code": code})
    assert not_a_form.status_code == 400


def test_an_expired_token_is_api_login_expired_and_a_refresh_token_never_expires(
    octo: Octo,
) -> None:
    tokens = octo.connect()
    octo.clock.advance(seconds=3600)
    expired = octo.call("GET", f"{API}/accommodation")
    assert expired.status_code == 401
    assert expired.json()["type"] == "ApiLoginExpired"
    octo.clock.advance(days=400)
    refresh_fields = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "refresh_token": tokens["refresh_token"],
    }
    refreshed = octo.call("POST", f"{API}/identity/refresh", form=refresh_fields)
    assert refreshed.status_code == 200
    assert set(refreshed.json()) == {"access_token", "expireDate"}
    octo.token = refreshed.json()["access_token"]
    assert octo.call("GET", f"{API}/accommodation").status_code == 200
    # The token endpoint takes the refresh_token grant too.
    again = octo.call(
        "POST", f"{API}/identity/token", form={**refresh_fields, "grant_type": "refresh_token"}
    )
    assert again.status_code == 200
    unknown = octo.call(
        "POST", f"{API}/identity/refresh", form={**refresh_fields, "refresh_token": "rt_nope"}
    )
    assert unknown.status_code == 401
    assert octo.call("GET", f"{API}/accommodation", token="made-up").json()["type"] == (
        "ApiKeyInvalid"
    )
    octo.token = ""
    assert octo.call("GET", f"{API}/accommodation").json()["type"] == "ApiKeyMissing"


def test_the_expired_status_is_configurable_and_tokens_expire_on_demand() -> None:
    octo = Octo(expired_token_status=403)
    octo.connect()
    assert octo.call("POST", "/_sim/tokens/expire").json() == {"expired": 1}
    refused = octo.call("GET", f"{API}/accommodation")
    assert (refused.status_code, refused.json()["type"]) == (403, "ApiLoginExpired")


def test_a_token_sees_only_the_accommodations_its_owner_granted() -> None:
    octo = Octo(owners=(OwnerSpec("owner", "owner-password", (501,)),))
    octo.connect()
    assert [a["id"] for a in octo.call("GET", f"{API}/accommodation").json()] == ["501"]
    refused = octo.call("GET", "/connect/rest/v3/roomrates/502")
    assert (refused.status_code, refused.json()["type"]) == (403, "ApiSecurityException")
    missing = octo.call("GET", "/connect/rest/v3/roomrates/999")
    assert missing.status_code == 404


def test_room_rates_and_the_calendar_read_back_what_was_written(octo: Octo) -> None:
    octo.connect()
    rooms = octo.call("GET", "/connect/rest/v3/roomrates/501").json()
    assert [(r["id"], [rate["id"] for rate in r["rates"]]) for r in rooms] == [
        (5011, [50111, 50112]),
        (5012, [50121]),
    ]
    written = octo.call(
        "POST",
        f"{API}/calendar/bulk",
        body=[
            {
                "room": 5011,
                "dateFrom": "2030-02-01",
                "dateTo": "2030-02-02",
                "values": {"availability": 2, "price": 99.5, "minstay": 2, "closedArrival": True},
            }
        ],
    )
    assert written.status_code == 200, written.text
    assert written.json() == {
        "success": True,
        "process": [
            {"room": 5011, "dateFrom": "2030-02-01", "dateTo": "2030-02-02", "changedDays": 2}
        ],
    }
    params = {"dateFrom": "2030-02-01", "dateTo": "2030-02-03", "size": "2", "page": "0"}
    read = octo.call("GET", f"{API}/calendar/501", params=params).json()
    assert read["page"] == {"page": 0, "size": 2, "totalElements": 5, "totalPages": 3}
    assert [item["id"] for item in read["data"]] == [5011, 5012]
    days = read["data"][0]["days"]
    assert days[0] == {
        "date": "2030-02-01",
        "availability": 2,
        "price": 99.5,
        "minStay": 2,
        "maxStay": 30,
        "stopSells": False,
        "closeToArrival": True,
        "closeToDeparture": False,
        "cutOffDays": 0,
    }
    assert days[2]["availability"] == 4
    assert days[2]["price"] == 120.0
    last_page = octo.call("GET", f"{API}/calendar/501", params={**params, "page": "2"})
    assert [item["id"] for item in last_page.json()["data"]] == [50121]


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ([], "non-empty array"),
        ([{"room": 5011, "dateFrom": "2030-02-01", "dateTo": "2030-02-01"}], "values"),
        ([{"room": "5011", "dateFrom": "2030-02-01", "dateTo": "2030-02-01"}], "room"),
        (
            [{"room": 5011, "dateFrom": "2030-02-02", "dateTo": "2030-02-01", "values": {}}],
            "before",
        ),
        (
            [{"room": 5011, "dateFrom": "x", "dateTo": "2030-02-01", "values": {"price": 1}}],
            "date",
        ),
        (
            [{"room": 5011, "dateFrom": "2030-02-01", "dateTo": "2030-02-01",
              "values": {"colour": "red"}}],
            "unknown",
        ),
        (
            [{"room": 5011, "dateFrom": "2030-02-01", "dateTo": "2030-02-01",
              "values": {"availability": -1}}],
            "0-9999",
        ),
    ],
)  # fmt: skip
def test_a_bad_calendar_write_is_a_clear_400_and_changes_nothing(
    octo: Octo, body: Any, why: str
) -> None:
    octo.connect()
    answer = octo.call("POST", f"{API}/calendar/bulk", body=body)
    assert answer.status_code == 400
    assert answer.json()["type"] == "ApiParamsExemption"
    assert why in answer.json()["message"]
    assert octo.app.state.simulator.calendar == {}


def test_bad_queries_are_clear_400s(octo: Octo) -> None:
    octo.connect()
    params = {"dateFrom": "2030-02-01", "dateTo": "2030-02-03"}
    too_big = octo.call("GET", f"{API}/calendar/501", params={**params, "size": "100"})
    assert too_big.status_code == 400
    assert "errPageSize" in too_big.json()["message"]
    no_dates = octo.call("GET", f"{API}/calendar/501")
    assert no_dates.status_code == 400
    bad_type = octo.call(
        "GET", f"{API}/reservation/501", params={"type": "ARRIVAL", "startDate": "2030-01-01",
                                                 "endDate": "2030-01-02"}
    )  # fmt: skip
    assert bad_type.status_code == 400
    broken_json = octo.call("POST", f"{API}/reservation/501", body=None)
    assert broken_json.status_code == 400
    assert broken_json.json()["type"] == "ApiParamsExemption"


def test_the_same_reference_twice_is_the_same_reservation(octo: Octo) -> None:
    octo.connect()
    first = octo.push("MKT-1")
    assert first.status_code == 200, first.text
    again = octo.push("MKT-1", totalGuest=1)
    other = octo.push("MKT-2")
    assert again.json()["id"] == first.json()["id"]
    assert other.json()["id"] != first.json()["id"]
    held = octo.call("GET", "/_sim/reservations").json()["data"]
    assert [r["refer"] for r in held] == ["MKT-1", "MKT-2"]
    assert octo.call("GET", "/_sim/counters").json()["idempotent_replays"] == 1
    read = octo.call("GET", f"{API}/reservation/501/{first.json()['id']}").json()
    assert read["status"] == "PENDING"
    assert read["totalGuest"] == 2
    assert read["checkin"] == "2030-02-10T02:00:00Z[UTC]"
    assert read["totalGross"] == 240.0
    assert (read["firstName"], read["lastName"]) == ("Ann", "Smith")
    listed = octo.call(
        "GET",
        f"{API}/reservation/501",
        params={"type": "STAY", "startDate": "2030-02-11", "endDate": "2030-02-11"},
    ).json()
    assert [r["refer"] for r in listed["data"]] == ["MKT-1", "MKT-2"]
    assert octo.push("").status_code == 400
    assert octo.push("MKT-3", product=5021).json()["type"] == "ApiValidationFailed"
    bad_stay = octo.push("MKT-4", checkout="2030-02-10")
    assert bad_stay.status_code == 400
    assert octo.push("MKT-5", totalGuest=3).status_code == 400
    assert octo.push("MKT-6", totalChildren="two").json()["type"] == "ApiParamsExemption"
    assert octo.push("MKT-7", guests="Ann").status_code == 400
    assert len(octo.app.state.simulator.reservations) == 2


def test_the_hotel_confirms_after_the_delay_and_says_so_by_webhook(octo: Octo) -> None:
    octo.connect()
    octo.subscribe("RESERVATION_CONFIRMED")
    pushed = octo.push("MKT-1").json()
    octo.clock.advance(seconds=119)
    assert octo.tick() == {"decided": 0, "attempted": 0}
    path = f"{API}/reservation/501/{pushed['id']}"
    assert octo.call("GET", path).json()["status"] == "PENDING"
    octo.clock.advance(seconds=1)
    assert octo.tick() == {"decided": 1, "attempted": 1}
    assert octo.call("GET", path).json()["status"] == "CONFIRMED"
    [received] = octo.receiver.received
    assert received.url == HOOK
    assert received.body["type"] == "RESERVATION_CONFIRMED"
    assert received.body["reference"] == str(pushed["id"])
    assert isinstance(received.body["content"], str)
    content = json.loads(received.body["content"])
    assert (content["id"], content["status"], content["refer"]) == (
        pushed["id"],
        "CONFIRMED",
        "MKT-1",
    )


def test_the_hotel_rejects_at_the_configured_ratio_under_control() -> None:
    octo = Octo(hotel_decision_delay_seconds=30)
    octo.connect()
    octo.subscribe("RESERVATION_CANCELLED")
    tuned = octo.call("POST", "/_sim/hotel", body={"rejection_ratio": 1.0})
    assert tuned.json()["rejection_ratio"] == 1.0
    assert octo.call("POST", "/_sim/hotel", body={"rejection_ratio": 2}).status_code == 400
    ids = [octo.push(f"MKT-{n}").json()["id"] for n in range(3)]
    octo.clock.advance(seconds=30)
    assert octo.tick()["decided"] == 3
    statuses = [octo.call("GET", f"{API}/reservation/501/{rid}").json()["status"] for rid in ids]
    assert statuses == ["REJECTED"] * 3
    assert [json.loads(r.body["content"])["status"] for r in octo.receiver.received] == [
        "REJECTED"
    ] * 3
    # A rejected reservation cannot be modified; /_sim/ decides only pending ones.
    assert octo.call("PUT", f"{API}/reservation/501/{ids[0]}", body={"totalGuest": 1}).status_code
    assert octo.call("POST", f"/_sim/reservations/{ids[0]}/confirm").status_code == 400


def test_modify_goes_back_to_the_hotel_and_cancel_is_idempotent(octo: Octo) -> None:
    octo.connect()
    octo.subscribe("RESERVATION_CHANGE")
    octo.subscribe("RESERVATION_CANCELLED")
    rid = octo.push("MKT-1").json()["id"]
    assert octo.call("POST", f"/_sim/reservations/{rid}/confirm").json()["status"] == "CONFIRMED"
    path = f"{API}/reservation/501/{rid}"
    changed = octo.call("PUT", path, body={"checkout": "2030-02-13"})
    assert changed.status_code == 200
    assert (changed.json()["status"], changed.json()["totalGross"]) == ("PENDING", 360.0)
    assert octo.call("PUT", path, body={"colour": "red"}).status_code == 400
    assert octo.call("DELETE", path).json()["status"] == "CANCELLED"
    assert octo.call("DELETE", path).json()["status"] == "CANCELLED"
    octo.clock.advance(seconds=600)
    assert octo.tick() == {"decided": 0, "attempted": 2}
    assert [r.body["type"] for r in octo.receiver.received] == [
        "RESERVATION_CHANGE",
        "RESERVATION_CANCELLED",
    ]
    assert octo.call("GET", f"{API}/reservation/502/{rid}").status_code == 404


def test_the_quota_refuses_past_the_window_and_counts_each_violation() -> None:
    octo = Octo(quota_calls=3, quota_window_seconds=300)
    octo.connect()
    rooms = "/connect/rest/v3/roomrates/501"
    assert [octo.call("GET", rooms).status_code for _ in range(3)] == [200, 200, 200]
    octo.clock.advance(seconds=100)
    refused = octo.call("GET", rooms)
    assert refused.status_code == 403
    assert refused.json()["type"] == "ApiQuotaException"
    # Another accommodation has its own window; the app's own calls are not charged.
    assert octo.call("GET", "/connect/rest/v3/roomrates/502").status_code == 200
    assert octo.call("GET", f"{API}/accommodation").status_code == 200
    quota = octo.call("GET", "/_sim/quota").json()
    assert quota["violations"] == 1
    assert quota["accommodations"] == {
        "501": {"calls_in_window": 3, "violations": 1},
        "502": {"calls_in_window": 1, "violations": 0},
    }
    octo.clock.advance(seconds=200)
    assert octo.call("GET", rooms).status_code == 200
    assert octo.call("GET", "/_sim/quota").json()["violations"] == 1


def test_the_calendar_webhook_is_double_encoded_grouped_and_signed(octo: Octo) -> None:
    octo.connect()
    subscription = octo.subscribe("PORTAL_SUBSCRIPTION_CALENDAR")
    assert octo.subscribe("PORTAL_SUBSCRIPTION_CALENDAR")["id"] == subscription["id"]
    changed = octo.call(
        "POST",
        "/_sim/calendar",
        body={"room": 5011, "dateFrom": "2030-02-01", "dateTo": "2030-02-04",
              "values": {"availability": 1}},
    )  # fmt: skip
    assert changed.json() == {"changed_days": 4, "deliveries": [1]}
    octo.call(
        "POST",
        f"{API}/calendar/bulk",
        body=[{"room": 5011, "dateFrom": "2030-02-03", "dateTo": "2030-02-03",
               "values": {"price": 150.0}}],
    )  # fmt: skip
    assert octo.receiver.received == []
    assert octo.tick() == {"decided": 0, "attempted": 2}
    first, second = octo.receiver.received
    body = first.body
    assert body["type"] == "PORTAL_SUBSCRIPTION_CALENDAR"
    assert body["reference"] == "501"
    assert body["createTime"] == "2030-01-07T09:00:00Z[UTC]"
    assert body["subscription"]["id"] == subscription["id"]
    assert isinstance(body["content"], str)
    expected = hmac.new(CLIENT_SECRET.encode(), body["content"].encode(), hashlib.sha1)
    assert body["hmac"] == expected.hexdigest()
    [item] = json.loads(body["content"])["data"]
    assert (item["id"], item["name"]) == (5011, "Double")
    assert item["days"] == [
        {
            "days": ["2030-02-01", "2030-02-02", "2030-02-03", "2030-02-04"],
            "availability": 1,
            "price": 120.0,
            "minStay": 1,
            "maxStay": 30,
            "stopSells": False,
            "closeToArrival": False,
            "closeToDeparture": False,
            "cutOffDays": 0,
        }
    ]
    [later] = json.loads(second.body["content"])["data"]
    assert [(group["days"], group["price"]) for group in later["days"]] == [(["2030-02-03"], 150.0)]
    # Writing the same values again changes nothing and sends nothing.
    same = octo.call(
        "POST",
        "/_sim/calendar",
        body={"room": 5011, "dateFrom": "2030-02-01", "dateTo": "2030-02-02",
              "values": {"availability": 1}},
    )  # fmt: skip
    assert same.json() == {"changed_days": 0, "deliveries": []}


def test_generated_changes_group_days_per_product_in_one_webhook_per_accommodation(
    octo: Octo,
) -> None:
    octo.connect()
    octo.subscribe("PORTAL_SUBSCRIPTION_CALENDAR")
    generated = octo.call("POST", "/_sim/calendar/generate", body={"count": 20}).json()
    assert generated["changed_days"] > 0
    octo.tick()
    assert len(octo.receiver.received) == len(generated["deliveries"]) <= 2
    total = 0
    sim = octo.app.state.simulator
    for received in octo.receiver.received:
        for item in json.loads(received.body["content"])["data"]:
            product = sim.products[item["id"]]
            assert str(product.accommodation.id) == received.body["reference"]
            for group in item["days"]:
                total += len(group["days"])
                for day in group["days"]:
                    held = sim.day_values(product, date.fromisoformat(day))
                    assert {k: group[k] for k in held} == held
    assert total == generated["changed_days"]
    assert octo.call("POST", "/_sim/calendar/generate", body={"count": 0}).status_code == 400


def test_no_calendar_webhook_for_an_accommodation_never_connected(octo: Octo) -> None:
    octo.connect()
    octo.subscribe("PORTAL_SUBSCRIPTION_CALENDAR")
    octo.app.state.simulator.connected.discard(502)
    octo.call(
        "POST",
        "/_sim/calendar",
        body={"room": 5021, "dateFrom": "2030-02-01", "dateTo": "2030-02-01",
              "values": {"stopSells": True}},
    )  # fmt: skip
    assert octo.tick()["attempted"] == 0


def test_webhooks_are_retried_until_200_and_406_stops_them(octo: Octo) -> None:
    octo.connect()
    octo.subscribe("PORTAL_SUBSCRIPTION_CALENDAR")
    octo.receiver.statuses = [500, 503, 200]
    change = {"room": 5012, "dateFrom": "2030-02-01", "dateTo": "2030-02-01"}
    octo.call("POST", "/_sim/calendar", body={**change, "values": {"availability": 0}})
    octo.tick()
    octo.clock.advance(seconds=60)
    octo.tick()
    octo.clock.advance(seconds=299)
    assert octo.tick()["attempted"] == 0
    octo.clock.advance(seconds=1)
    octo.tick()
    [delivery] = octo.call("GET", "/_sim/webhooks/deliveries").json()["data"]
    assert delivery["status"] == "delivered"
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 503, 200]
    assert [r.body["retry"] for r in octo.receiver.received] == [0, 1, 2]
    octo.receiver.statuses = [406]
    octo.call("POST", "/_sim/calendar", body={**change, "values": {"availability": 1}})
    octo.tick()
    octo.clock.advance(days=3)
    octo.tick()
    refused = octo.call("GET", "/_sim/webhooks/deliveries").json()["data"][1]
    assert (refused["status"], len(refused["attempts"])) == ("refused", 1)


def test_subscriptions_are_listed_checked_and_deleted(octo: Octo) -> None:
    octo.connect()
    supported = octo.call("GET", f"{API}/subscription/list").json()
    assert "PORTAL_SUBSCRIPTION_CALENDAR" in supported
    assert "RESERVATION_CONFIRMED" in supported
    made = octo.subscribe("RESERVATION_CREATED")
    assert octo.call("GET", f"{API}/subscription").json() == [made]
    bad = octo.call("POST", f"{API}/subscription/NOT_AN_EVENT", form={"url": HOOK})
    assert bad.status_code == 400
    no_url = octo.call("POST", f"{API}/subscription/RESERVATION_CREATED", form={"url": "ftp://x"})
    assert no_url.status_code == 400
    assert octo.call("DELETE", f"{API}/subscription/{made['id']}").status_code == 200
    assert octo.call("GET", f"{API}/subscription").json() == []
    assert octo.call("DELETE", f"{API}/subscription/{made['id']}").status_code == 404
    octo.push("MKT-1")
    octo.tick()
    assert octo.receiver.received == []


def test_the_request_log_keeps_full_bodies_with_secrets_masked(octo: Octo) -> None:
    octo.connect()
    octo.push("MKT-1")
    rows = octo.call("GET", "/_sim/requests", params={"bodies": "1"}).json()["data"]
    assert [(r["method"], r["path"]) for r in rows] == [
        ("POST", AUTHORIZE),
        ("POST", f"{API}/identity/token"),
        ("POST", f"{API}/reservation/501"),
    ]
    assert "owner-password" not in rows[0]["body"]
    assert "client_secret=***" in rows[1]["body"]
    assert CLIENT_SECRET not in json.dumps(rows)
    assert rows[2]["headers"]["authorization"] == "***"
    assert json.loads(rows[2]["body"])["refer"] == "MKT-1"
    assert rows[2]["accommodation"] == 501


def test_reset_forgets_everything(octo: Octo) -> None:
    octo.connect()
    octo.subscribe("RESERVATION_CREATED")
    octo.push("MKT-1")
    assert octo.call("POST", "/_sim/reset").json() == {"message": "Success"}
    assert octo.call("GET", "/_sim/requests").json() == {"data": []}
    assert octo.call("GET", "/_sim/reservations").json() == {"data": []}
    assert octo.call("GET", "/_sim/quota").json()["accommodations"] == {}
    assert octo.call("GET", f"{API}/accommodation").json()["type"] == "ApiKeyInvalid"


def test_faults_answer_in_octorate_shape() -> None:
    octo = Octo()
    octo.connect()
    set_faults = octo.call("POST", "/_sim/faults", body={"server_error_rate": 1.0, "seed": 1})
    assert set_faults.status_code == 200
    answer = octo.call("GET", f"{API}/accommodation")
    assert answer.status_code in (500, 502, 503)
    assert set(answer.json()) == {"type", "message", "status"}
    assert octo.call("POST", "/_sim/faults", body={"server_error_rate": 3}).status_code == 400
    octo.call("DELETE", "/_sim/faults")
    assert octo.call("GET", f"{API}/accommodation").status_code == 200


def test_over_real_sockets_the_dance_and_a_calendar_webhook_reach_a_local_receiver() -> None:
    """Both the simulator and the marketplace's webhook endpoint on loopback ports."""
    received: list[dict[str, Any]] = []
    receiver = FastAPI()

    @receiver.post("/hooks/octorate")
    async def hook(request: Request) -> dict[str, bool]:
        received.append(await request.json())
        return {"ok": True}

    clock = FakeClock(START)
    config = SimulatorConfig(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        clock=clock,
        pump_interval_seconds=None,
    )
    with (
        serving(receiver) as hook_base,
        serving(create_app(config)) as base,
        httpx.Client(base_url=base) as http,
    ):
        page = http.get(
            AUTHORIZE,
            params={"client_id": CLIENT_ID, "redirect_uri": REDIRECT, "state": "live"},
        )
        assert page.status_code == 200
        approved = http.post(
            AUTHORIZE,
            data={
                "client_id": CLIENT_ID,
                "redirect_uri": REDIRECT,
                "state": "live",
                "username": "owner",
                "password": "owner-password",
                "decision": "approve",
            },
        )
        query = parse_qs(urlsplit(approved.headers["location"]).query)
        assert query["state"] == ["live"]
        tokens = http.post(
            f"{API}/identity/token",
            data={
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "redirect_uri": REDIRECT,
                "grant_type": "code",
                "code": query["code"][0],
            },
        ).json()
        http.headers["Authorization"] = f"Bearer {tokens['access_token']}"
        subscribed = http.post(
            f"{API}/subscription/PORTAL_SUBSCRIPTION_CALENDAR",
            data={"url": f"{hook_base}/hooks/octorate"},
        )
        assert subscribed.status_code == 200
        http.post(
            f"{API}/calendar/bulk",
            json=[{"room": 5021, "dateFrom": "2030-03-01", "dateTo": "2030-03-02",
                   "values": {"stopSells": True}}],
        )  # fmt: skip
        assert http.post("/_sim/tick").json() == {"decided": 0, "attempted": 1}
    [envelope] = received
    assert envelope["reference"] == "502"
    [item] = json.loads(envelope["content"])["data"]
    assert item["id"] == 5021
    assert [(group["days"], group["stopSells"]) for group in item["days"]] == [
        (["2030-03-01", "2030-03-02"], True)
    ]


def test_the_cli_starts_the_simulator_with_its_options(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[tuple[str, int, SimulatorConfig]] = []
    monkeypatch.setattr(
        "innsync.simulators.octorate.app.run",
        lambda host, port, config: started.append((host, port, config)),
    )
    result = CliRunner().invoke(
        cli,
        ["simulate", "octorate", "--port", "9124", "--seed", "4", "--redirect-uri", REDIRECT,
         "--decision-seconds", "5", "--rejection-ratio", "0.25"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    [(host, port, config)] = started
    assert (host, port, config.seed, config.redirect_uris) == ("127.0.0.1", 9124, 4, (REDIRECT,))
    assert (config.hotel_decision_delay_seconds, config.hotel_rejection_ratio) == (5.0, 0.25)
    assert config.client_secret not in result.output
    refused = CliRunner().invoke(cli, ["simulate", "octorate", "--rejection-ratio", "2"])
    assert refused.exit_code != 0


def test_planned_failures_answer_a_chosen_status_before_or_after_the_call(octo: Octo) -> None:
    octo.connect()
    plan = {"endpoint": "POST /reservation/{id}", "status": 503, "count": 1}
    assert octo.call("POST", "/_sim/failures", body=plan).json() == {
        "POST /reservation/{id}": {"status": 503, "count": 1, "rate": None, "after_handling": False}
    }
    before = octo.push("MKT-1")
    assert (before.status_code, before.json()["type"]) == (503, "InternalServerError")
    assert octo.app.state.simulator.reservations == {}
    # After handling: the push lands though the client sees a 502; the retry with the same
    # reference finds it instead of making a second one.
    octo.call("POST", "/_sim/failures", body={**plan, "status": 502, "after_handling": True})
    lost = octo.push("MKT-1")
    assert lost.status_code == 502
    retried = octo.push("MKT-1")
    assert retried.status_code == 200
    assert len(octo.app.state.simulator.reservations) == 1
    assert octo.call("GET", "/_sim/counters").json()["idempotent_replays"] == 1
    assert octo.call("GET", "/_sim/failures").json() == {}
    rows = octo.call("GET", "/_sim/requests").json()["data"][-3:]
    assert [(r["endpoint"], r["status"]) for r in rows] == [
        ("POST /reservation/{id}", 503),
        ("POST /reservation/{id}", 502),
        ("POST /reservation/{id}", 200),
    ]
    bad = octo.call("POST", "/_sim/failures", body={"endpoint": "nope", "status": 200})
    assert bad.status_code == 400
    assert set(bad.json()["message"].split("; ")) == {
        'endpoint: must be "METHOD /path", e.g. "POST /reservation/{id}"',
        "status: must be an HTTP status from 400 to 599",
    }


def test_a_confirmation_takes_a_unit_and_a_cancellation_gives_it_back(octo: Octo) -> None:
    octo.connect()
    octo.subscribe("PORTAL_SUBSCRIPTION_CALENDAR")
    rid = octo.push("MKT-1").json()["id"]  # 2030-02-10 and 11 on rate 50111 of room 5011
    octo.call("POST", f"/_sim/reservations/{rid}/confirm")
    params = {"dateFrom": "2030-02-10", "dateTo": "2030-02-12", "size": "3"}
    data = octo.call("GET", f"{API}/calendar/501", params=params).json()["data"]
    units = {item["id"]: [d["availability"] for d in item["days"]] for item in data}
    assert units == {5011: [3, 3, 4], 5012: [2, 2, 2], 50111: [3, 3, 4]}
    octo.call("DELETE", f"{API}/reservation/501/{rid}")
    octo.tick()
    contents = [json.loads(r.body["content"])["data"] for r in octo.receiver.received]
    taken = {item["id"]: item["days"][0]["availability"] for item in contents[0]}
    given_back = {item["id"]: item["days"][0]["availability"] for item in contents[1]}
    assert taken == {5011: 3, 50111: 3, 50112: 3}
    assert given_back == {5011: 4, 50111: 4, 50112: 4}
    assert contents[0][0]["days"][0]["days"] == ["2030-02-10", "2030-02-11"]


def test_the_hotel_rejects_a_stay_with_a_night_sold_out(octo: Octo) -> None:
    octo.connect()
    octo.call(
        "POST",
        "/_sim/calendar",
        body={"room": 5012, "dateFrom": "2030-02-11", "dateTo": "2030-02-11",
              "values": {"availability": 0}},
    )  # fmt: skip
    rid = octo.push("MKT-1", product=50121, totalGuest=1).json()["id"]
    octo.clock.advance(seconds=120)
    assert octo.tick()["decided"] == 1
    assert octo.call("GET", f"{API}/reservation/501/{rid}").json()["status"] == "REJECTED"
    assert octo.app.state.simulator.held_units == {}


def test_unknown_routes_wrong_methods_and_broken_json_answer_in_octorate_shape(
    octo: Octo,
) -> None:
    octo.connect()
    unknown = octo.call("GET", f"{API}/nothing-here")
    assert (unknown.status_code, unknown.json()["type"]) == (404, "NotFound")
    wrong_method = octo.call("PATCH", f"{API}/accommodation")
    assert (wrong_method.status_code, wrong_method.json()["type"]) == (405, "MethodNotAllowed")
    assert "GET" in wrong_method.headers["allow"]

    async def broken() -> httpx.Response:
        transport = httpx.ASGITransport(app=octo.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sim") as http:
            return await http.post(
                f"{API}/reservation/501",
                content=b'{"refer": ',
                headers={"Authorization": f"Bearer {octo.token}",
                         "Content-Type": "application/json"},
            )  # fmt: skip

    not_json = anyio.run(broken)
    assert (not_json.status_code, not_json.json()["type"]) == (400, "JsonParseExemption")
    not_a_number = octo.call("GET", f"{API}/calendar/abc", params={"dateFrom": "2030-01-01"})
    assert (not_a_number.status_code, not_a_number.json()["type"]) == (400, "ApiParamsExemption")


def run_marketplace(seed: int) -> tuple[list[str], int, int]:
    """20 pushes through a 30 % lost-answer fault, each retried until answered, then the
    hotel's decisions at a 50 % rejection ratio: statuses, pushes made, pushes answered 502."""
    octo = Octo(seed=seed)
    octo.connect()
    octo.call("POST", "/_sim/hotel", body={"rejection_ratio": 0.5})
    plan = {"endpoint": "POST /reservation/{id}", "status": 502, "rate": 0.3}
    octo.call("POST", "/_sim/failures", body={**plan, "after_handling": True})
    pushes = lost = 0
    for n in range(20):
        while True:
            pushes += 1
            answer = octo.push(f"MKT-{n}", checkin=f"2030-03-{n + 1:02d}", checkout="2030-03-25")
            if answer.status_code == 200:
                break
            assert answer.status_code == 502
            lost += 1
    octo.clock.advance(seconds=120)
    octo.tick()
    held = octo.call("GET", "/_sim/reservations").json()["data"]
    return [r["status"] for r in held], pushes, lost


def test_lost_answers_never_duplicate_and_seeded_runs_replay_exactly() -> None:
    statuses, pushes, lost = run_marketplace(seed=11)
    assert len(statuses) == 20
    assert pushes == 20 + lost
    assert lost > 0
    assert set(statuses) == {"CONFIRMED", "REJECTED"}
    assert run_marketplace(seed=11) == (statuses, pushes, lost)


def test_a_read_only_app_may_read_the_calendar_but_not_write_it() -> None:
    octo = Octo(accommodation_permission="READONLY")
    octo.connect()
    configuration = octo.call("GET", f"{API}/api/configuration").json()
    assert configuration["permissions"]["accommodation"] == "READONLY"
    item = {"room": 5011, "dateFrom": "2030-02-01", "dateTo": "2030-02-01", "values": {"price": 1}}
    refused = octo.call("POST", f"{API}/calendar/bulk", body=[item])
    assert refused.status_code == 403
    assert refused.json()["message"] == "Caller not in requested role"
    assert octo.app.state.simulator.calendar == {}
    params = {"dateFrom": "2030-02-01", "dateTo": "2030-02-01"}
    assert octo.call("GET", f"{API}/calendar/501", params=params).status_code == 200


def test_a_price_that_is_not_a_finite_number_is_refused(octo: Octo) -> None:
    octo.connect()

    async def nan_price() -> httpx.Response:
        transport = httpx.ASGITransport(app=octo.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sim") as http:
            return await http.post(
                f"{API}/calendar/bulk",
                content=b'[{"room": 5011, "dateFrom": "2030-02-01", "dateTo": "2030-02-01",'
                b' "values": {"price": NaN}}]',
                headers={"Authorization": f"Bearer {octo.token}",
                         "Content-Type": "application/json"},
            )  # fmt: skip

    refused = anyio.run(nan_price)
    assert refused.status_code == 400
    assert refused.json()["message"] == "[0].values.price must be >= 0"
    assert octo.app.state.simulator.calendar == {}


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(
        st.sampled_from(["room", "dateFrom", "dateTo", "values", "refer", "product", "checkin",
                         "checkout", "totalGuest", "guests", "status", "price", "availability"])
        | st.text(max_size=8),
        inner,
        max_size=6,
    ),
    max_leaves=12,
)  # fmt: skip
REFUSED_BODY_ROUTES = [
    ("POST", f"{API}/calendar/bulk"),
    ("POST", f"{API}/reservation/501"),
    ("PUT", f"{API}/reservation/501/{{rid}}"),
    ("POST", "/_sim/calendar"),
    ("POST", "/_sim/hotel"),
    ("POST", "/_sim/failures"),
    ("POST", "/_sim/faults"),
]


def test_no_body_is_answered_with_a_server_error() -> None:
    """Random JSON bodies on every route that takes one: a 4xx in Octorate's body, never 5xx.
    One simulator for all examples (building one each time costs more than the calls), with a
    quota that the examples do not reach, so every one reaches its handler."""
    octo = Octo(quota_calls=10_000)
    octo.connect()
    rid = octo.push("MKT-1").json()["id"]

    @settings(max_examples=150, deadline=None)
    @given(body=JSON_VALUES, route=st.sampled_from(REFUSED_BODY_ROUTES))
    def no_server_error(body: Any, route: tuple[str, str]) -> None:
        check_no_server_error(octo, rid, body, route)

    no_server_error()


def check_no_server_error(octo: Octo, rid: int, body: Any, route: tuple[str, str]) -> None:
    method, path = route
    answer = octo.call(method, path.format(rid=rid), body=body)
    assert answer.status_code < 500, answer.text
    if answer.status_code >= 400:
        assert {"type", "message", "status"} <= set(answer.json())


QUERY_NAMES = ["dateFrom", "dateTo", "size", "page", "type", "startDate", "endDate", "bodies"]
QUERY_VALUES = st.text(max_size=12) | st.dates().map(str) | st.integers(-5, 200).map(str)


def test_no_query_is_answered_with_a_server_error() -> None:
    """Random query parameters on the list and read routes: never a 5xx."""
    octo = Octo(quota_calls=10_000)
    octo.connect()
    rid = octo.push("MKT-1").json()["id"]
    paths = [
        f"{API}/calendar/501",
        f"{API}/reservation/501",
        f"{API}/reservation/501/{rid}",
        f"{API}/accommodation",
        "/_sim/requests",
        "/_sim/webhooks/deliveries",
    ]

    @settings(max_examples=150, deadline=None)
    @given(
        path=st.sampled_from(paths),
        params=st.dictionaries(st.sampled_from(QUERY_NAMES), QUERY_VALUES, max_size=5),
    )
    def no_server_error(path: str, params: dict[str, str]) -> None:
        answer = octo.call("GET", path, params=params)
        assert answer.status_code < 500, answer.text

    no_server_error()

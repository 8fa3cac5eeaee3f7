"""The Octorate adapter on a mocked transport: webhook signatures, the webhook's grouped days,
events of other hotels, Octorate's three kinds of 403, a hotel that has not connected, and the
OAuth pieces built with Authlib."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pydantic import SecretStr

from innsync.channels.credentials import Credential, InMemoryCredentialStore
from innsync.channels.errors import BadSignatureError, ChannelAuthError, ChannelThrottledError
from innsync.channels.octorate import OctorateAdapter, OctorateApp, OctorateConfig, mapping, oauth
from innsync.channels.types import BookingAnswer

NOW = datetime(2031, 5, 6, 9, 0, tzinfo=UTC)
SECRET = "app-secret"
APP = OctorateApp("app", SecretStr(SECRET), "https://octorate.test/connect")
AUTHORIZE = "https://octorate.test/octobook/identity/oauth.xhtml"


def adapter(handler: Any = None, *, connected: bool = True, **config: Any) -> OctorateAdapter:
    store = InMemoryCredentialStore()
    if connected:
        credential = Credential("token", NOW + timedelta(hours=1), refresh_token="rt_1")
        asyncio.run(store.persist("access", credential))
    transport = httpx.MockTransport(handler or (lambda _r: httpx.Response(200, json=[])))
    return OctorateAdapter(
        OctorateConfig(accommodation_id=501, **config),
        APP,
        httpx.AsyncClient(transport=transport),
        credentials=store,
        now=lambda: NOW,
    )


def envelope(kind: str, reference: str, content: dict[str, Any], key: str = SECRET) -> bytes:
    text = json.dumps(content)
    signature = hmac.new(key.encode(), text.encode(), hashlib.sha1).hexdigest()
    return json.dumps(
        {"type": kind, "reference": reference, "retry": 0, "content": text, "hmac": signature}
    ).encode()


CALENDAR = {
    "data": [
        {"id": 5011, "name": "Double", "days": [
            {"days": ["2031-06-01", "2031-06-02", "2031-06-04"], "availability": 2,
             "price": 99.0, "minStay": 1, "maxStay": 30, "stopSells": False,
             "closeToArrival": False, "closeToDeparture": False, "cutOffDays": 0},
            {"days": ["2031-06-03"], "availability": 0, "price": 99.0, "minStay": 1,
             "maxStay": 30, "stopSells": True, "closeToArrival": False,
             "closeToDeparture": False, "cutOffDays": 0},
        ]},
    ]
}  # fmt: skip


def test_a_signed_webhook_passes_and_a_forged_or_unsigned_one_is_refused() -> None:
    channel = adapter()
    good = envelope("PORTAL_SUBSCRIPTION_CALENDAR", "501", CALENDAR)
    channel.verify_webhook({}, good)
    with pytest.raises(BadSignatureError):
        channel.verify_webhook({}, envelope("PORTAL_SUBSCRIPTION_CALENDAR", "501", CALENDAR, "x"))
    unsigned = json.loads(good)
    del unsigned["hmac"]
    with pytest.raises(BadSignatureError):
        channel.verify_webhook({}, json.dumps(unsigned).encode())
    with pytest.raises(BadSignatureError):
        channel.verify_webhook({}, b"not json")


def test_the_webhooks_grouped_days_give_the_same_values_as_the_calendar_read() -> None:
    grouped = mapping.webhook_days(CALENDAR)
    by_day = [
        {"date": day.isoformat(), **{k: v for k, v in group.items() if k != "days"}}
        for day, group in sorted(grouped[5011].items())
    ]
    read = mapping.read_days([{"id": 5011, "days": by_day}])
    assert {d: dict(v) for d, v in read[5011].items()} == {
        d: {"date": d.isoformat(), **{k: v for k, v in g.items() if k != "days"}}
        for d, g in grouped[5011].items()
    }
    snapshot = asyncio.run(
        adapter().parse_webhook({}, envelope("PORTAL_SUBSCRIPTION_CALENDAR", "501", CALENDAR))
    )[0]
    units = sorted(
        (u.dates.start, u.dates.end, u.availability)
        for u in snapshot.availability  # type: ignore[union-attr]
    )
    assert units == [
        (date(2031, 6, 1), date(2031, 6, 3), 2),
        (date(2031, 6, 3), date(2031, 6, 4), 0),
        (date(2031, 6, 4), date(2031, 6, 5), 2),
    ]


def test_events_of_another_hotel_stand_for_nothing() -> None:
    channel = adapter()
    other = envelope("PORTAL_SUBSCRIPTION_CALENDAR", "502", CALENDAR)
    assert asyncio.run(channel.parse_webhook({}, other)) == ()
    confirmed = {"id": 9, "status": "CONFIRMED", "accommodation": {"id": "502"}}
    assert (
        asyncio.run(channel.parse_webhook({}, envelope("RESERVATION_CONFIRMED", "9", confirmed)))
        == ()
    )


def test_a_confirmation_and_a_rejection_become_the_hotels_answers() -> None:
    channel = adapter()
    confirmed = {"id": 9, "status": "CONFIRMED", "accommodation": {"id": "501"}}
    rejected = {"id": 10, "status": "REJECTED", "accommodation": {"id": "501"}}
    pending = {"id": 11, "status": "PENDING", "accommodation": {"id": "501"}}
    answers = [
        asyncio.run(channel.parse_webhook({}, envelope(kind, str(body["id"]), body)))
        for kind, body in (
            ("RESERVATION_CONFIRMED", confirmed),
            ("RESERVATION_CANCELLED", rejected),
            ("RESERVATION_CREATED", pending),
        )
    ]
    assert isinstance(answers[0][0], BookingAnswer)
    assert answers[0][0].channel_booking_id == "9"
    assert answers[0][0].confirmation.state == "confirmed"
    assert isinstance(answers[1][0], BookingAnswer)
    assert answers[1][0].confirmation.state == "rejected"
    assert answers[2] == ()


def refusal(status: int, kind: str) -> Any:
    return lambda _r: httpx.Response(status, json={"type": kind, "message": "no", "status": status})


def test_a_spent_quota_is_retry_later_and_a_refused_role_needs_a_person() -> None:
    with pytest.raises(ChannelThrottledError) as spent:
        asyncio.run(adapter(refusal(403, "ApiQuotaException")).booking_status("9"))
    assert spent.value.retry_after == 300.0
    with pytest.raises(ChannelAuthError):
        asyncio.run(adapter(refusal(403, "ApiSecurityException")).booking_status("9"))


def test_an_expired_token_is_refreshed_once_and_the_call_retried() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(f"{request.method} {request.url.path}")
        if request.url.path.endswith("/identity/refresh"):
            return httpx.Response(
                200, json={"access_token": "fresh", "expireDate": "2031-05-06T11:00:00.000Z"}
            )
        if request.headers["authorization"] == "Bearer token":
            return httpx.Response(401, json={"type": "ApiLoginExpired", "message": "Expired"})
        return httpx.Response(200, json={"id": 9, "status": "CONFIRMED"})

    answer = asyncio.run(adapter(handler).booking_status("9"))

    assert answer.state == "confirmed"
    assert calls == [
        "GET /connect/rest/v1/reservation/501/9",
        "POST /connect/rest/v1/identity/refresh",
        "GET /connect/rest/v1/reservation/501/9",
    ]


def test_a_hotel_that_has_not_connected_needs_the_connect_step() -> None:
    with pytest.raises(ChannelAuthError, match="oauth/start"):
        asyncio.run(adapter(connected=False).booking_status("9"))


def test_the_declared_limit_leaves_room_for_two_calls_per_operation() -> None:
    limits = adapter(quota_calls=100).limits
    assert (limits.requests_per_window, limits.window_seconds) == (50, 300.0)


def test_the_oauth_url_bodies_and_callback_are_rfc_6749_with_octorates_code_grant() -> None:
    app = OctorateApp("app", SecretStr(SECRET), "https://octorate.test/connect", AUTHORIZE)
    url = oauth.authorize_url(app, "https://inn.test/cb?x=1", "st8")
    assert url.startswith(f"{AUTHORIZE}?")
    assert parse_qs(urlsplit(url).query) == {
        "response_type": ["code"],
        "client_id": ["app"],
        "redirect_uri": ["https://inn.test/cb?x=1"],
        "state": ["st8"],
    }
    assert oauth.code_of("https://inn.test/cb?code=c%2B1&state=st8") == "c+1"
    assert oauth.code_of("https://inn.test/cb?error=access_denied&state=st8") is None
    bodies: list[dict[str, list[str]]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["content-type"] == "application/x-www-form-urlencoded"
        bodies.append(parse_qs(request.content.decode()))
        answer = {"access_token": "at", "refresh_token": "rt", "expireDate": "2031-05-06Z"}
        return httpx.Response(200, json=answer)

    async def both() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
            await oauth.exchange_code(http, app, "c+1", "https://inn.test/cb", lambda: NOW)
            await oauth.refresh(http, app, "rt", lambda: NOW)

    asyncio.run(both())
    assert bodies == [
        {"grant_type": ["code"], "redirect_uri": ["https://inn.test/cb"], "client_id": ["app"],
         "client_secret": [SECRET], "code": ["c+1"]},
        {"grant_type": ["refresh_token"], "client_id": ["app"], "client_secret": [SECRET],
         "refresh_token": ["rt"]},
    ]  # fmt: skip

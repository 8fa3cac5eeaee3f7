"""The Aiosell adapter over ``httpx.MockTransport``: auth, replies, errors and webhooks."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, TypeVar

import httpx
import pytest

from innsync.channels import registry
from innsync.channels.aiosell import AiosellAdapter, AiosellConfig
from innsync.channels.aiosell.webhooks import WEBHOOK_REPLY
from innsync.channels.contract import AnswersWebhooks, capabilities_of
from innsync.channels.errors import (
    BadSignatureError,
    ChannelAuthError,
    ChannelRejectedError,
    ChannelUnavailableError,
)
from innsync.channels.types import (
    AvailabilityUpdate,
    BookingCancellation,
    BookingRevision,
    PushRequest,
    RateUpdate,
    RateValues,
)
from innsync.stay_dates import DateRange

T = TypeVar("T")
NOW = datetime(2025, 2, 21, 8, 0, tzinfo=UTC)
MARCH = DateRange.inclusive(date(2025, 3, 1), date(2025, 3, 5))
BASIC = "Basic " + base64.b64encode(b"pms-user:pms-pass").decode()
HOOK = "Basic " + base64.b64encode(b"aiosell:hook-pass").decode()
Handler = Callable[[httpx.Request], httpx.Response]


def _config(**changes: Any) -> AiosellConfig:
    settings: dict[str, Any] = {
        "base_url": "https://aiosell.test/api/v2/cm",
        "partner": "sample-pms",
        "hotel_code": "SANDBOX-PMS",
        "username": "pms-user",
        "password": "pms-pass",
        "to_channels": ["agoda", "booking.com"],
        "occupancy_rate_plans": {"BAR": {1: "EXECUTIVE-S-101", 2: "EXECUTIVE-D-101"}},
        "webhook_username": "aiosell",
        "webhook_password": "hook-pass",
    }
    return AiosellConfig.model_validate(settings | changes)


def _run(handler: Handler, call: Callable[[AiosellAdapter], Any], **changes: Any) -> Any:
    async def scenario() -> Any:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
            return await call(AiosellAdapter(_config(**changes), http, now=lambda: NOW))

    return asyncio.run(scenario())


def _reply(message: str, *, success: bool = True, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json={"success": success, "message": message})


def _availability() -> PushRequest[AvailabilityUpdate]:
    return PushRequest("availability", (AvailabilityUpdate("EXECUTIVE", MARCH, 4),))


def test_registered_with_its_capabilities() -> None:
    kind = registry.get("aiosell")
    assert kind.webhook_verifier_field == "webhook_password"
    adapter = _run(lambda _: _reply("ok"), lambda adapter: asyncio.sleep(0, adapter))
    assert capabilities_of(adapter) == {
        "pushes_availability",
        "pushes_rates",
        "receives_webhooks",
        "pulls_reservations",
    }
    assert "pms-pass" not in repr(_config())


def test_availability_goes_to_the_update_url_with_basic_auth() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return _reply("Inventory Updated Successfully")

    result = _run(handler, lambda adapter: adapter.push_availability(_availability()))
    assert result.is_fully_accepted
    (request,) = seen
    assert request.method == "POST"
    assert request.url.path == "/api/v2/cm/update/sample-pms"
    assert request.headers["authorization"] == BASIC
    assert json.loads(request.content) == {
        "hotelCode": "SANDBOX-PMS",
        "updates": [
            {
                "startDate": "2025-03-01",
                "endDate": "2025-03-05",
                "rooms": [{"roomCode": "EXECUTIVE", "available": 4}],
            }
        ],
    }


def test_rates_and_restrictions_are_two_calls_and_a_refusal_refuses_its_entries() -> None:
    seen: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/v2/cm/update-rates/sample-pms"
        assert request.headers["authorization"] == BASIC
        body = json.loads(request.content)
        seen.append(body)
        if "toChannels" in body:
            return _reply("Invalid rateplan", success=False)
        return _reply("Rates Updated Successfully")

    request = PushRequest(
        "rates",
        (
            RateUpdate("EXECUTIVE", "BAR", MARCH, RateValues(occupancy_prices=((2, Decimal(42)),))),
            RateUpdate("EXECUTIVE", "BAR", MARCH, RateValues(stop_sell=True)),
        ),
    )
    result = _run(handler, lambda adapter: adapter.push_rates(request))
    assert result.accepted_indexes == (0,)
    assert result.rejected == {1: "Invalid rateplan"}
    assert seen[0]["updates"][0]["rates"] == [
        {"roomCode": "EXECUTIVE", "rateplanCode": "EXECUTIVE-D-101", "rate": 42.0}
    ]
    assert seen[1]["toChannels"] == ["agoda", "booking.com"]


def test_every_retry_carries_the_auth_header() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) == 1:
            return httpx.Response(503, headers={"retry-after": "7"})
        return _reply("Inventory Updated Successfully")

    async def twice(adapter: AiosellAdapter) -> Any:
        with pytest.raises(ChannelUnavailableError) as failed:
            await adapter.push_availability(_availability())
        assert failed.value.retry_after == 7.0
        return await adapter.push_availability(_availability())

    assert _run(handler, twice).is_fully_accepted
    assert [request.headers["authorization"] for request in seen] == [BASIC, BASIC]


@pytest.mark.parametrize(
    ("response", "error"),
    [
        (_reply("Authentication Required!", success=False, status=400), ChannelAuthError),
        (_reply("Partner is disabled!", success=False), ChannelAuthError),
        (httpx.Response(401), ChannelAuthError),
        (httpx.Response(429), ChannelUnavailableError),
        (httpx.Response(500, text="boom"), ChannelUnavailableError),
        (httpx.Response(200, text="<html>"), ChannelUnavailableError),
        (httpx.Response(200, json={"message": "no verdict"}), ChannelUnavailableError),
        (_reply("Hotel not found", success=False, status=400), ChannelRejectedError),
        (httpx.Response(404), ChannelRejectedError),
    ],
)
def test_statuses_become_channel_errors(response: httpx.Response, error: type[Exception]) -> None:
    with pytest.raises(error):
        _run(lambda _: response, lambda adapter: adapter.push_availability(_availability()))


def test_a_refused_auth_message_is_never_a_mere_rejection() -> None:
    with pytest.raises(ChannelAuthError) as failed:
        _run(
            lambda _: _reply("Authentication Required!", success=False, status=400),
            lambda adapter: adapter.test_connection(),
        )
    assert "pms-pass" not in str(failed.value)


def test_connection_reads_the_fetch_endpoint() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"hotelCode": "SANDBOX-PMS", "updates": []})

    _run(handler, lambda adapter: adapter.test_connection())
    (request,) = seen
    assert request.url.path == "/api/v2/cm/data/sample-pms"
    assert request.headers["authorization"] == BASIC
    assert json.loads(request.content) == {
        "type": "inventory",
        "hotelCode": "SANDBOX-PMS",
        "startDate": "2025-02-21",
        "endDate": "2025-02-21",
    }


BOOKING = {
    "action": "book",
    "hotelCode": "SANDBOX-PMS",
    "channel": "MakeMyTrip",
    "bookingId": "MMT-1",
    "checkin": "2025-03-01",
    "checkout": "2025-03-02",
    "amount": {"amountAfterTax": 100.0},
    "rooms": [{"roomCode": "EXECUTIVE", "occupancy": {"adults": 1, "children": 0}}],
}


def _adapter(**changes: Any) -> AiosellAdapter:
    return AiosellAdapter(_config(**changes), httpx.AsyncClient(), now=lambda: NOW)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": BASIC},
        {"Authorization": "Basic " + base64.b64encode(b"aiosell:wrong").decode()},
        {"Authorization": "Basic " + base64.b64encode(b"other:hook-pass").decode()},
        {"Authorization": "Basic not-base64!"},
        {"Authorization": "Bearer hook-pass"},
    ],
)
def test_webhook_verification_refuses_bad_credentials(headers: dict[str, str]) -> None:
    with pytest.raises(BadSignatureError):
        _adapter().verify_webhook(headers, json.dumps(BOOKING).encode())


def test_webhook_without_configured_credentials_is_refused() -> None:
    with pytest.raises(BadSignatureError):
        _adapter(webhook_password=None).verify_webhook({"authorization": HOOK}, b"{}")


def test_verified_webhook_parses_into_a_revision() -> None:
    adapter = _adapter()
    body = json.dumps(BOOKING).encode()
    adapter.verify_webhook({"authorization": HOOK}, body)
    (revision,) = asyncio.run(adapter.parse_webhook({"authorization": HOOK}, body))
    assert isinstance(revision, BookingRevision)
    assert revision.channel_booking_id == "MMT-1"
    assert revision.ota_name == "MakeMyTrip"
    assert revision.received_at == NOW
    assert WEBHOOK_REPLY == {"success": True, "message": "Reservation Updated Successfully"}
    with pytest.raises(ChannelRejectedError):
        asyncio.run(adapter.parse_webhook({}, b"{not json"))


def test_a_cancel_with_only_the_booking_id_is_a_short_cancellation() -> None:
    body = json.dumps(
        {"action": "cancel", "hotelCode": "SANDBOX-PMS", "channel": "Agoda", "bookingId": "AG-9"}
    ).encode()
    (cancellation,) = asyncio.run(_adapter().parse_webhook({}, body))
    assert cancellation == BookingCancellation(
        channel_booking_id="AG-9",
        revision_id=cancellation.revision_id,
        received_at=NOW,
        currency="INR",
        ota_name="Agoda",
    )
    assert cancellation.revision_id.startswith("AG-9:")
    # Only a cancel may leave the dates out.
    short_modify = json.loads(body) | {"action": "modify"}
    with pytest.raises(ChannelRejectedError):
        asyncio.run(_adapter().parse_webhook({}, json.dumps(short_modify).encode()))


def test_a_book_is_dated_when_it_was_booked_and_later_actions_when_read() -> None:
    booked_on = {"bookedOn": "2025-02-20 14:03:11"}
    adapter = _adapter(timezone="UTC")
    (book,) = asyncio.run(adapter.parse_webhook({}, json.dumps(BOOKING | booked_on).encode()))
    modify = BOOKING | booked_on | {"action": "modify"}
    (modified,) = asyncio.run(adapter.parse_webhook({}, json.dumps(modify).encode()))
    assert book.received_at == datetime(2025, 2, 20, 14, 3, 11, tzinfo=UTC)
    assert modified.received_at == NOW
    # A bookedOn later than now (a clock off) never dates a book after what follows it.
    future = {"bookedOn": "2025-02-22 00:00:00"}
    (late,) = asyncio.run(adapter.parse_webhook({}, json.dumps(BOOKING | future).encode()))
    assert late.received_at == NOW
    assert adapter.cancellations_are_final


def test_the_pull_reads_the_fetch_window_and_leaves_out_what_it_cannot_read() -> None:
    seen: list[Any] = []
    short_cancel = {"action": "cancel", "hotelCode": "SANDBOX-PMS", "bookingId": "X"}

    def aiosell(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return httpx.Response(200, json=[BOOKING, short_cancel, {"action": "book"}, 7])

    page = _run(aiosell, lambda adapter: adapter.pull_revisions("ignored"), pull_window_days=30)
    assert seen == [
        {
            "type": "reservation",
            "hotelCode": "SANDBOX-PMS",
            "startDate": "2025-02-20",
            "endDate": "2025-03-23",
        }
    ]
    (revision,) = page.revisions
    assert (revision.channel_booking_id, page.next_cursor, page.has_more) == ("MMT-1", None, False)
    # The same content as a push is the same revision, whatever its key order or spacing.
    (pushed,) = asyncio.run(_adapter().parse_webhook({}, json.dumps(BOOKING, indent=2).encode()))
    assert pushed == revision


def test_a_pull_answer_that_is_not_an_array_is_an_unavailable_channel() -> None:
    with pytest.raises(ChannelUnavailableError):
        _run(
            lambda _: httpx.Response(200, json={"success": True}),
            lambda adapter: adapter.pull_revisions(None),
        )


@pytest.mark.parametrize(
    ("body", "setting", "answer"),
    [
        (json.dumps(BOOKING).encode(), "refuse", 200),
        (b"{not json", "refuse", 400),
        (b'{"action": "book"}', "refuse", 400),
        (b"{not json", "accept", 200),
    ],
)
def test_the_webhook_answer_is_the_documented_reply_or_a_refusal(
    body: bytes, setting: str, answer: int
) -> None:
    adapter = _adapter(unreadable_webhook_answer=setting)
    assert isinstance(adapter, AnswersWebhooks)
    for outcome in ("stored", "duplicate"):
        reply = adapter.webhook_answer(outcome, body)
        assert reply.status_code == answer
        if answer == 200:
            assert reply.body == WEBHOOK_REPLY
        else:
            assert reply.body["success"] is False
            assert "not understood" in str(reply.body["message"])


@pytest.mark.parametrize(
    "changes",
    [
        {"timezone": "Mars/Olympus"},
        {"occupancy_rate_plans": {"BAR": {0: "X"}}},
        {"occupancy_rate_plans": {"BAR": {}}},
        {"to_channels": [""]},
        {"partner": "a/b"},
        {"base_url": "ftp://x"},
        {"currency": "inr"},
    ],
)
def test_config_refuses_bad_settings(changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="validation error"):
        _config(**changes)


def test_config_survives_its_stored_json() -> None:
    config = _config()
    assert AiosellConfig.model_validate_json(config.model_dump_json()) == config

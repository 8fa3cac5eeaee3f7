"""The channel kit's HTTP (``channels/http.py``) against ``httpx.MockTransport``: every status a
channel can answer, time-outs, malformed bodies, paging and what reaches the logs."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from innsync.channels.channex import ChannexConfig
from innsync.channels.channex.client import ChannexClient
from innsync.channels.errors import (
    ChannelAuthError,
    ChannelError,
    ChannelRejectedError,
    ChannelThrottledError,
    ChannelTimedOutError,
    ChannelUnavailableError,
)
from innsync.channels.http import (
    MAX_RETRY_AFTER_SECONDS,
    ChannelHttp,
    Page,
    collect_pages,
    masked_headers,
    refuse_oversized,
    retry_after_seconds,
)

NOW = datetime(2026, 3, 4, 12, 0, 0, tzinfo=UTC)
KEY = "kit-secret-key-123"
BASE_URL = "http://channel.test/api"

Handler = Callable[[httpx.Request], httpx.Response]


def _kit(handler: Handler, **overrides: Any) -> ChannelHttp:
    options: dict[str, Any] = {
        "channel": "Testchan",
        "base_url": BASE_URL,
        "timeout": httpx.Timeout(5.0),
        "default_headers": {"x-api-key": KEY},
        "now": lambda: NOW,
        **overrides,
    }
    return ChannelHttp(httpx.AsyncClient(transport=httpx.MockTransport(handler)), **options)


def _error_of(handler: Handler, **overrides: Any) -> ChannelError:
    async def scenario() -> ChannelError:
        with pytest.raises(ChannelError) as caught:
            await _kit(handler, **overrides).json("POST", "/things", body={"a": 1})
        return caught.value

    return asyncio.run(scenario())


def _answer(status: int, headers: Mapping[str, str] | None = None, body: Any = None) -> Handler:
    def handler(_: httpx.Request) -> httpx.Response:
        return httpx.Response(status, headers=headers, json=body)

    return handler


@pytest.mark.parametrize("status", [401, 403])
def test_refused_credentials_need_new_credentials(status: int) -> None:
    error = _error_of(_answer(status, body={"error": "bad key"}))
    assert type(error) is ChannelAuthError
    assert str(error).startswith(f"Testchan POST /things answered {status}")
    assert KEY not in str(error)


@pytest.mark.parametrize("status", [400, 404, 409, 422])
def test_other_refusals_are_final(status: int) -> None:
    error = _error_of(_answer(status))
    assert type(error) is ChannelRejectedError
    assert str(error).startswith(f"Testchan POST /things answered {status}")


def test_a_channel_describes_its_own_error_bodies() -> None:
    def describe(response: httpx.Response) -> str:
        return "code " + response.json()["code"]

    error = _error_of(_answer(422, body={"code": "price_too_low"}), describe=describe)
    assert str(error) == "Testchan POST /things answered 422 code price_too_low"


def test_429_with_retry_after_seconds() -> None:
    error = _error_of(_answer(429, {"Retry-After": "17"}))
    assert type(error) is ChannelThrottledError
    assert error.retry_after == 17.0


def test_429_with_retry_after_http_date() -> None:
    error = _error_of(_answer(429, {"Retry-After": "Wed, 04 Mar 2026 12:01:30 GMT"}))
    assert type(error) is ChannelThrottledError
    assert error.retry_after == 90.0


def test_429_without_retry_after_takes_the_channels_documented_pause() -> None:
    error = _error_of(_answer(429), rate_limit_pause=60.0)
    assert type(error) is ChannelThrottledError
    assert error.retry_after == 60.0
    bare = _error_of(_answer(429))
    assert type(bare) is ChannelThrottledError
    assert bare.retry_after is None


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408])
def test_server_errors_are_retried_with_their_hint(status: int) -> None:
    error = _error_of(_answer(status, {"Retry-After": "5"}))
    assert type(error) is ChannelUnavailableError
    assert error.retry_after == 5.0
    without = _error_of(_answer(status))
    assert type(without) is ChannelUnavailableError
    assert without.retry_after is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0", 0.0),
        ("120", 120.0),
        (" 3 ", 3.0),
        ("Wed, 04 Mar 2026 12:00:10 GMT", 10.0),
        ("Wed, 04 Mar 2026 11:00:00 GMT", 0.0),  # a date already past means now
        ("999999999", MAX_RETRY_AFTER_SECONDS),
        ("-5", None),
        ("soon", None),
        ("", None),
    ],
)
def test_retry_after_parsing(raw: str, expected: float | None) -> None:
    assert retry_after_seconds({"retry-after": raw}, NOW) == expected


def test_no_retry_after_header() -> None:
    assert retry_after_seconds({}, NOW) is None


def test_time_outs_and_transport_failures_are_retryable() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    timed_out = _error_of(slow)
    assert type(timed_out) is ChannelTimedOutError
    assert str(timed_out) == "Testchan POST /things timed out"
    failed = _error_of(refused)
    assert type(failed) is ChannelUnavailableError
    assert str(failed) == "Testchan POST /things failed: ConnectError"
    assert failed.retry_after is None


@pytest.mark.parametrize(
    ("error", "overrides", "wait"),
    [
        # The channel had the call: it may still carry it out, so no retry comes sooner than
        # that call could land (by default, the read time-out again).
        (httpx.ReadTimeout, {}, 5.0),
        (httpx.WriteTimeout, {}, 5.0),
        (httpx.ReadTimeout, {"late_landing_seconds": 12.5}, 12.5),
        # The call never reached the channel: nothing can land late.
        (httpx.ConnectTimeout, {}, None),
        (httpx.PoolTimeout, {}, None),
    ],
)
def test_a_time_out_waits_until_the_call_given_up_could_have_landed(
    error: type[httpx.TimeoutException], overrides: dict[str, Any], wait: float | None
) -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise error("slow", request=request)

    timed_out = _error_of(slow, **overrides)
    assert isinstance(timed_out, ChannelUnavailableError)
    assert timed_out.retry_after == wait


def test_malformed_json_success_is_retryable() -> None:
    def garbled(_: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"{not json")

    error = _error_of(garbled)
    assert type(error) is ChannelUnavailableError
    assert "answered 200 with no JSON" in str(error)


def test_json_call_sends_compact_json_and_returns_the_answer() -> None:
    seen: list[httpx.Request] = []

    def echo(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"ok": True})

    answer = asyncio.run(_kit(echo).json("PUT", "/things/1", body={"a": [1, 2]}))
    assert answer == {"ok": True}
    (request,) = seen
    assert request.content == b'{"a":[1,2]}'
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-api-key"] == KEY
    assert str(request.url) == f"{BASE_URL}/things/1"


def test_missing_ok_turns_404_into_none() -> None:
    answer = asyncio.run(_kit(_answer(404)).json("GET", "/things/9", missing_ok=True))
    assert answer is None


def test_auth_headers_are_asked_for_on_every_call() -> None:
    tokens = iter(["first", "second"])
    seen: list[str] = []

    async def auth() -> dict[str, str]:
        return {"authorization": f"Bearer {next(tokens)}"}

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["authorization"])
        return httpx.Response(200, json={})

    async def scenario() -> None:
        kit = _kit(record, auth_headers=auth)
        await kit.json("GET", "/a")
        await kit.json("GET", "/b")

    asyncio.run(scenario())
    assert seen == ["Bearer first", "Bearer second"]


def test_xml_answers_are_parsed() -> None:
    def ota(request: httpx.Request) -> httpx.Response:
        assert request.headers["content-type"] == "text/xml; charset=utf-8"
        return httpx.Response(
            200, content=b"<OTA_HotelAvailNotifRS><Success/></OTA_HotelAvailNotifRS>"
        )

    root = asyncio.run(_kit(ota).xml("POST", "/ota", content=b"<OTA_HotelAvailNotifRQ/>"))
    assert root.tag == "OTA_HotelAvailNotifRS"
    assert root.find("Success") is not None


def test_malformed_xml_is_retryable() -> None:
    def broken(_: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"<OTA_HotelAvailNotifRS><Success>")

    async def scenario() -> None:
        await _kit(broken).xml("POST", "/ota", content=b"<x/>")

    with pytest.raises(ChannelUnavailableError, match="malformed XML"):
        asyncio.run(scenario())


def test_xml_with_entities_is_refused_before_parsing() -> None:
    bomb = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa">]><r>&a;&a;</r>'

    def hostile(_: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=bomb)

    async def scenario() -> None:
        await _kit(hostile).xml("POST", "/ota", content=b"<x/>")

    with pytest.raises(ChannelRejectedError, match="DOCTYPE"):
        asyncio.run(scenario())


def test_paging_reads_until_a_short_page() -> None:
    asked: list[int] = []

    async def fetch(page: int) -> Page[int]:
        asked.append(page)
        items = list(range((page - 1) * 3, page * 3)) if page < 3 else [6]
        return Page(items)

    found = asyncio.run(collect_pages(fetch, page_size=3, max_pages=10, what="things"))
    assert found == [0, 1, 2, 3, 4, 5, 6]
    assert asked == [1, 2, 3]


def test_paging_stops_at_the_total_without_an_empty_page() -> None:
    asked: list[int] = []

    async def fetch(page: int) -> Page[int]:
        asked.append(page)
        return Page([page * 10, page * 10 + 1], total=4)

    found = asyncio.run(collect_pages(fetch, page_size=2, max_pages=10, what="things"))
    assert found == [10, 11, 20, 21]
    assert asked == [1, 2]


def test_paging_gives_up_on_a_server_that_never_ends() -> None:
    asked: list[int] = []

    async def endless(page: int) -> Page[int]:
        asked.append(page)
        return Page([1, 2])

    with pytest.raises(ChannelUnavailableError, match="things did not end after 5 pages"):
        asyncio.run(collect_pages(endless, page_size=2, max_pages=5, what="things"))
    assert asked == [1, 2, 3, 4, 5]


def test_oversized_bodies_are_refused_before_sending() -> None:
    refuse_oversized(b"x" * 10, 10, "Testchan")
    with pytest.raises(ChannelRejectedError, match="at most 10 bytes per call; this one has 11"):
        refuse_oversized(b"x" * 11, 10, "Testchan")


def test_masked_headers() -> None:
    headers = {
        "user-api-key": "k",
        "Authorization": "Bearer t",
        "X-Session-Token": "s",
        "x-innsync-webhook-secret": "w",
        "X-Partner": "p",
        "accept": "application/json",
    }
    assert masked_headers(headers, extra={"x-partner"}) == {
        "user-api-key": "***",
        "Authorization": "***",
        "X-Session-Token": "***",
        "x-innsync-webhook-secret": "***",
        "X-Partner": "***",
        "accept": "application/json",
    }


def test_request_logs_mask_every_secret(caplog: pytest.LogCaptureFixture) -> None:
    async def auth() -> dict[str, str]:
        return {"authorization": "Bearer oauth-token-xyz"}

    def ok(_: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={})

    caplog.set_level(logging.INFO, logger="innsync.channels.http")
    asyncio.run(
        _kit(ok, auth_headers=auth).json(
            "POST", "/things", params={"token": "query-token-1", "page": "2"}, body={"n": 1}
        )
    )
    (record,) = [r for r in caplog.records if r.name == "innsync.channels.http"]
    logged = json.dumps(record.__dict__, default=str)
    for secret in (KEY, "oauth-token-xyz", "query-token-1"):
        assert secret not in logged
    assert record.__dict__["request_headers"]["x-api-key"] == "***"
    assert record.__dict__["request_headers"]["authorization"] == "***"
    assert record.__dict__["params"] == {"token": "***", "page": "2"}
    assert record.__dict__["status"] == 200
    assert record.__dict__["body_bytes"] == len(b'{"n":1}')


def test_the_channex_client_logs_through_the_kit_without_its_key(
    caplog: pytest.LogCaptureFixture,
) -> None:
    property_id = "6b4c9c3a-63a2-4f1f-9a58-0d5d6f3f0b8e"
    seen: list[httpx.Request] = []

    def channex(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(429, json={"errors": {"code": "http_too_many_requests"}})

    config = ChannexConfig(api_key=SecretStr(KEY), property_id=property_id)
    client = ChannexClient(
        httpx.AsyncClient(transport=httpx.MockTransport(channex)), config, lambda: NOW
    )
    caplog.set_level(logging.INFO, logger="innsync.channels.http")
    with pytest.raises(ChannelUnavailableError) as caught:
        asyncio.run(client.get_property())
    # §1.3: no Retry-After from Channex, so its documented one-minute pause is the hint.
    assert caught.value.retry_after == 60.0
    assert str(caught.value) == (
        f"Channex GET /properties/{property_id} answered 429 http_too_many_requests"
    )
    assert seen[0].headers["user-api-key"] == KEY
    (record,) = [r for r in caplog.records if r.name == "innsync.channels.http"]
    assert record.__dict__["request_headers"]["user-api-key"] == "***"
    assert KEY not in json.dumps(record.__dict__, default=str)

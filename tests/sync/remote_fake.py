"""The fake channel behind HTTP, so that worker processes can share one channel in a test.

The server keeps a FakeChannel per connection and logs which worker sent each request and when;
the adapter speaks the neutral JSON form (``innsync.channels.encoding``) to it.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from innsync.channels.encoding import rate_values_from_json, request_to_json
from innsync.channels.errors import ChannelAuthError, ChannelRejectedError, ChannelUnavailableError
from innsync.channels.fake import FakeChannel, FakeChannelConfig
from innsync.channels.types import (
    AvailabilityUpdate,
    ChannelLimits,
    EntryResult,
    PushRequest,
    PushResult,
    RateUpdate,
)
from innsync.stay_dates import WEEKDAY_NAMES, DateRange

HOLDER_HEADER = "X-Worker"
# Tight enough that a short test exercises the limiter; each budget is 5 requests per 2 s.
TEST_LIMITS = ChannelLimits(
    requests_per_window=5,
    window_seconds=2.0,
    window_scope="property",
    separate_budgets=True,
    max_request_bytes=10_000_000,
    understands_ranges=True,
    understands_weekdays=True,
)


def decode_update(kind: str, encoded: dict[str, Any]) -> AvailabilityUpdate | RateUpdate:
    dates = DateRange(date.fromisoformat(encoded["start"]), date.fromisoformat(encoded["end"]))
    days = encoded.get("days")
    weekdays = frozenset(WEEKDAY_NAMES.index(day) for day in days) if days else None
    if kind == "availability":
        return AvailabilityUpdate(
            encoded["room_type"], dates, int(encoded["availability"]), weekdays
        )
    values = {
        k: v
        for k, v in encoded.items()
        if k not in {"room_type", "rate_plan", "start", "end", "days"}
    }
    return RateUpdate(
        encoded["room_type"], encoded["rate_plan"], dates, rate_values_from_json(values), weekdays
    )


@dataclass
class LoggedRequest:
    channel_code: str
    holder: str
    kind: str
    received: float
    finished: float
    outcome: str


@dataclass
class RemoteFakeServer:
    """The server side: one FakeChannel per connection code, and the request log."""

    channels: dict[str, FakeChannel] = field(default_factory=dict)
    log: list[LoggedRequest] = field(default_factory=list)

    def channel(self, code: str) -> FakeChannel:
        if code not in self.channels:
            self.channels[code] = FakeChannel(
                FakeChannelConfig(limits=TEST_LIMITS), clock=time.time
            )
        return self.channels[code]

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/push/{code}/{kind}")
        async def push(code: str, kind: str, request: Request) -> JSONResponse:
            received = time.time()
            body = await request.json()
            updates = tuple(decode_update(kind, value) for value in body["values"])
            channel = self.channel(code)
            outcome, response = "accepted", JSONResponse({})
            try:
                result = await (
                    channel.push_availability(PushRequest("availability", updates))  # type: ignore[arg-type]
                    if kind == "availability"
                    else channel.push_rates(PushRequest("rates", updates))  # type: ignore[arg-type]
                )
                response = JSONResponse(
                    {
                        "entries": [[entry.accepted, entry.reason] for entry in result.entries],
                        "task": result.task_id,
                    }
                )
                outcome = "accepted" if result.is_fully_accepted else "partial"
            except ChannelUnavailableError as exc:
                outcome = "limited"
                response = JSONResponse(
                    {"error": str(exc)},
                    status_code=429,
                    headers={"Retry-After": str(exc.retry_after or 1)},
                )
            except ChannelRejectedError as exc:
                outcome = "rejected"
                response = JSONResponse({"error": str(exc)}, status_code=400)
            except ChannelAuthError as exc:
                outcome = "auth"
                response = JSONResponse({"error": str(exc)}, status_code=401)
            self.log.append(
                LoggedRequest(
                    code,
                    request.headers.get(HOLDER_HEADER, "?"),
                    kind,
                    received,
                    time.time(),
                    outcome,
                )
            )
            return response

        return app


class RemoteFakeAdapter:
    """The client side: a channel adapter that pushes to :class:`RemoteFakeServer`."""

    name = "fake"

    def __init__(self, base_url: str, code: str, holder: str, http: httpx.AsyncClient) -> None:
        self._base_url, self._code, self._holder, self._http = base_url, code, holder, http

    @property
    def limits(self) -> ChannelLimits:
        return TEST_LIMITS

    async def test_connection(self) -> None:
        return None

    async def push_availability(self, request: PushRequest[AvailabilityUpdate]) -> PushResult:
        return await self._push(request)

    async def push_rates(self, request: PushRequest[RateUpdate]) -> PushResult:
        return await self._push(request)

    async def _push(self, request: PushRequest[Any]) -> PushResult:
        try:
            response = await self._http.post(
                f"{self._base_url}/push/{self._code}/{request.kind}",
                json=request_to_json(request.kind, request.updates),
                headers={HOLDER_HEADER: self._holder},
            )
        except httpx.HTTPError as exc:
            raise ChannelUnavailableError(f"fake channel unreachable: {exc}") from exc
        if response.status_code == 429:
            raise ChannelUnavailableError(
                "rate limited", retry_after=float(response.headers["Retry-After"])
            )
        if response.status_code == 401:
            raise ChannelAuthError("refused")
        if response.status_code == 400:
            raise ChannelRejectedError(response.json()["error"])
        entries = response.json()["entries"]
        return PushResult(
            tuple(
                EntryResult(index, accepted, reason)
                for index, (accepted, reason) in enumerate(entries)
            ),
            response.json()["task"],
        )


def connection_code(connection_id: uuid.UUID) -> str:
    return str(connection_id)

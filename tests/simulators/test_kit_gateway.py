"""The kit's front door (``simulators/kit/gateway.py``) with a vendor's hooks: its own screen,
headers on every answer (refusals included), lost answers and tags from the request's notes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import anyio
import httpx
from fastapi import FastAPI, Request
from starlette.responses import Response
from starlette.types import Scope

from innsync.simulators.kit.faults import FaultInjector, FaultSettings
from innsync.simulators.kit.gateway import (
    REASONS,
    FrontDoor,
    injected_fault,
    over_cap,
    request_notes,
)
from innsync.simulators.kit.requests import Masker, RequestLog

AT = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)


@dataclass
class DoorConfig:
    max_body_bytes: int = 10
    slept: list[float] = field(default_factory=list)

    @property
    def sleep(self) -> Any:
        async def sleep(seconds: float) -> None:
            self.slept.append(seconds)

        return sleep


@dataclass
class DoorState:
    config: DoorConfig = field(default_factory=DoorConfig)
    faults: FaultInjector = field(
        default_factory=lambda: FaultInjector(FaultSettings(timeout_seconds=7.0), 1)
    )
    requests: RequestLog = field(default_factory=lambda: RequestLog(100))
    lost: int = 0
    ids: int = 0

    def now(self) -> datetime:
        return AT

    def masker(self) -> Masker:
        return Masker(frozenset({"k-secret"}))


def _app(state: DoorState) -> FastAPI:
    app = FastAPI()

    @app.post("/api/things")
    async def things(request: Request) -> dict[str, Any]:
        request.state.things = len(await request.body())
        return {"ok": True}

    def refusal(status: int) -> Response:
        return Response(REASONS[status], status_code=status)

    async def screen(scope: Scope, size: int) -> Response | None:
        state.ids += 1
        request_notes(scope)["id"] = f"r{state.ids}"
        # The vendor checks its key first, then the kit's cap and faults.
        if dict(scope["headers"]).get(b"key") != b"k-secret":
            return Response("no key", status_code=401)
        if over_cap(state, size):
            return refusal(413)
        return await injected_fault(state, refusal)

    def holds_answer(_: Scope) -> bool:
        if state.lost <= 0:
            return False
        state.lost -= 1
        return True

    app.add_middleware(
        FrontDoor,
        state=state,
        is_api=lambda path: path.startswith("/api/"),
        refusal=refusal,
        screen=screen,
        headers=lambda scope: [("x-id", str(request_notes(scope)["id"]))],
        holds_answer=holds_answer,
        tags=lambda scope, _body: {"things": request_notes(scope).get("things")},
    )
    return app


def _post(app: FastAPI, body: bytes, key: str = "k-secret") -> httpx.Response:
    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://door") as client:
            return await client.post("/api/things", content=body, headers={"key": key})

    return anyio.run(call)


def test_a_vendor_screen_runs_in_its_order_and_every_answer_carries_its_headers() -> None:
    state = DoorState()
    app = _app(state)
    no_key = _post(app, b"x" * 50, key="wrong")
    assert (no_key.status_code, no_key.text, no_key.headers["x-id"]) == (401, "no key", "r1")
    too_big = _post(app, b"x" * 50)
    assert (too_big.status_code, too_big.text, too_big.headers["x-id"]) == (
        413,
        "Payload Too Large",
        "r2",
    )
    fine = _post(app, b"abc")
    assert (fine.status_code, fine.headers["x-id"]) == (200, "r3")
    rows = [(r.status, r.body_bytes, r.tags) for r in list(state.requests)]
    assert rows == [
        (401, 50, {"things": None}),
        (413, 50, {"things": None}),
        (200, 3, {"things": 3}),
    ]
    assert all("k-secret" not in str(r.headers) for r in list(state.requests))


def test_a_lost_answer_is_carried_out_then_held_for_the_timeout() -> None:
    state = DoorState(lost=1)
    app = _app(state)
    held = _post(app, b"abcd")
    assert (held.status_code, held.headers["x-id"]) == (200, "r1")
    assert state.config.slept == [7.0]
    assert list(state.requests)[-1].tags == {"things": 4}
    _post(app, b"abcd")
    assert state.config.slept == [7.0]  # one lost answer owed, one held


def test_injected_faults_are_refused_in_the_vendors_words() -> None:
    state = DoorState()
    state.faults.settings = FaultSettings(server_error_rate=1.0)
    refused = _post(_app(state), b"abc")
    assert refused.status_code in (500, 502, 503)
    assert refused.text == REASONS[refused.status_code]
    assert list(state.requests)[-1].tags == {"things": None}

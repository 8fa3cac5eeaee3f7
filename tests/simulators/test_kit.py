"""The simulator convention (``simulators/kit``): one `/_sim/` control plane for every simulator,
and a request log that shows what was sent, whole, with secrets masked."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import anyio
import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from innsync.simulators.kit.control import control_router
from innsync.simulators.kit.faults import FaultInjector, FaultSettings
from innsync.simulators.kit.requests import MASK, Masker, RequestLog, decoded_headers
from tests.simulators.conftest import API_KEY, Sim, SimFactory, create_hotel

HOOK_SECRET = "hook-secret-abc"
AT = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)


def test_requests_with_bodies_show_exactly_what_was_sent(sim: Sim) -> None:
    hotel = create_hotel(sim.client)
    values = [{"property_id": hotel.property_id, "room_type_id": hotel.twin_id,
               "date": "2030-01-08", "availability": 3}]  # fmt: skip
    sent = sim.client.request(
        "POST",
        "/api/v1/availability",
        content=json.dumps({"values": values}).encode(),
        params={"trace": "t1"},
        headers={"content-type": "application/json", "x-client": "innsync-test"},
    )
    assert sent.status_code == 200, sent.text
    row = sim.client.get("/_sim/requests", params={"bodies": "1"}).json()["data"][-1]
    assert row["method"] == "POST"
    assert row["path"] == "/api/v1/availability"
    assert row["query"] == "trace=t1"
    assert json.loads(row["body"]) == {"values": values}
    assert row["body_bytes"] == len(json.dumps({"values": values}).encode())
    assert row["body_truncated"] is False
    assert row["headers"]["user-api-key"] == MASK
    assert row["headers"]["x-client"] == "innsync-test"
    assert row["endpoint_class"] == "availability"
    assert row["property_ids"] == [hotel.property_id]
    assert row["status"] == 200


def test_requests_without_bodies_keep_their_short_form(sim: Sim) -> None:
    sim.client.get("/api/v1/properties")
    (row,) = sim.client.get("/_sim/requests").json()["data"]
    assert set(row) == {
        "method",
        "path",
        "endpoint_class",
        "property_ids",
        "body_bytes",
        "status",
        "at",
    }


def test_secrets_never_reach_the_request_log(sim: Sim) -> None:
    hotel = create_hotel(sim.client)
    hook = {
        "property_id": hotel.property_id,
        "callback_url": "https://pms.example/hooks/channex",
        "event_mask": "booking",
        "is_active": True,
        "send_data": True,
        "headers": {"x-innsync-webhook-secret": HOOK_SECRET},
        "request_params": {"note": f"echo {API_KEY}"},
    }
    created = sim.client.post("/api/v1/webhooks", {"webhook": hook})
    assert created.status_code == 201, created.text
    # The secret again, where no field name gives it away: known values are masked anywhere.
    sim.client.get("/api/v1/webhooks", params={"filter[note]": HOOK_SECRET})
    log = sim.client.get("/_sim/requests", params={"bodies": "1"}).json()["data"]
    shown = json.dumps(log)
    assert HOOK_SECRET not in shown
    assert API_KEY not in shown
    stored = json.loads(log[-2]["body"])["webhook"]
    assert stored["headers"] == {"x-innsync-webhook-secret": MASK}
    assert stored["request_params"] == {"note": f"echo {MASK}"}
    assert stored["callback_url"] == hook["callback_url"]
    assert log[-1]["query"] == f"filter%5Bnote%5D={MASK}"


def test_large_bodies_are_kept_up_to_the_configured_size(make_sim: SimFactory) -> None:
    sim = make_sim(logged_body_bytes=50)
    hotel = create_hotel(sim.client)
    sim.client.post("/api/v1/availability", {"values": [{"property_id": hotel.property_id}]})
    row = sim.client.get("/_sim/requests", params={"bodies": "1"}).json()["data"][-1]
    assert row["body_truncated"] is True
    assert row["body_bytes"] > 50
    assert len(row["body"].encode()) <= 50


def test_the_log_is_emptied_by_reset(sim: Sim) -> None:
    sim.client.get("/api/v1/properties")
    assert sim.client.post("/_sim/reset").json() == {"message": "Success"}
    assert sim.client.get("/_sim/requests", params={"bodies": "1"}).json() == {"data": []}


def test_masker_masks_secret_names_and_known_values() -> None:
    masker = Masker(frozenset({"s3cr3t", "s3cr3t-longer"}))
    assert masker.headers([("Authorization", "Bearer x"), ("X-Trace", "s3cr3t-longer!")]) == (
        ("Authorization", MASK),
        ("X-Trace", f"{MASK}!"),
    )
    body = b'{"api_key":"k","nested":[{"access_token":"t","note":"s3cr3t"}],"empty_token":null}'
    assert json.loads(masker.body(body)) == {
        "api_key": MASK,
        "nested": [{"access_token": MASK, "note": MASK}],
        "empty_token": None,
    }
    assert masker.body(b"<Password>s3cr3t</Password>") == f"<Password>{MASK}</Password>"


def test_request_log_keeps_the_newest() -> None:
    log = RequestLog(size=2)
    for number in range(3):
        log.record(
            masker=Masker(),
            method="GET",
            path=f"/r{number}",
            query="",
            headers=decoded_headers([(b"accept", b"*/*")]),
            body=b"",
            body_bytes=0,
            status=200,
            at=AT,
        )
    assert [row["path"] for row in log.rows(with_bodies=False)] == ["/r1", "/r2"]
    assert len(log) == 2


class MiniError(Exception):
    def __init__(self, details: dict[str, list[str]]) -> None:
        super().__init__("invalid")
        self.details = details


@dataclass
class MiniState:
    """A second simulator's state, as small as the convention allows."""

    start_faults: FaultSettings = field(default_factory=FaultSettings)
    start_seed: int = 3
    faults: FaultInjector = field(init=False)
    requests: RequestLog = field(default_factory=lambda: RequestLog(100))
    ticks: int = 0
    resets: int = 0

    def __post_init__(self) -> None:
        self.faults = FaultInjector(self.start_faults, self.start_seed)

    def reseed_faults(self, seed: int) -> None:
        self.faults.reseed(seed)

    def reset(self) -> None:
        self.resets += 1
        self.requests = RequestLog(100)

    async def tick(self) -> dict[str, int]:
        self.ticks += 1
        return {"delivered": self.ticks}


def _mini_app(state: MiniState) -> FastAPI:
    app = FastAPI()

    @app.exception_handler(MiniError)
    async def invalid(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, MiniError)
        return JSONResponse({"mini_errors": exc.details}, status_code=422)

    app.include_router(control_router(lambda _: state, MiniError))
    return app


def _call(app: FastAPI, method: str, path: str, body: Any = None) -> httpx.Response:
    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://mini") as client:
            return await client.request(method, path, json=body)

    return anyio.run(call)


def test_any_simulator_mounting_the_kit_has_the_same_control_plane() -> None:
    state = MiniState()
    app = _mini_app(state)
    assert _call(app, "GET", "/_sim/faults").json() == {"seed": 3, **FaultSettings().model_dump()}
    changed = _call(app, "POST", "/_sim/faults", {"server_error_rate": 0.5, "seed": 11}).json()
    assert changed["server_error_rate"] == 0.5
    assert changed["seed"] == 11
    assert state.faults.seed == 11
    refused = _call(app, "POST", "/_sim/faults", {"timeout_rate": 0.9})
    assert refused.status_code == 422
    assert refused.json() == {
        "mini_errors": {
            "faults": ["Value error, server_error_rate + too_many_requests_rate + timeout_rate > 1"]
        }
    }
    assert state.faults.settings.timeout_rate == 0.0
    bad_seed = _call(app, "POST", "/_sim/faults", {"seed": "x"})
    assert bad_seed.json() == {"mini_errors": {"seed": ["is invalid"]}}
    cleared = _call(app, "DELETE", "/_sim/faults").json()
    assert cleared == {"seed": 3, **FaultSettings().model_dump()}
    assert _call(app, "POST", "/_sim/tick").json() == {"delivered": 1}
    assert _call(app, "GET", "/_sim/requests").json() == {"data": []}
    assert _call(app, "POST", "/_sim/reset").json() == {"message": "Success"}
    assert state.resets == 1

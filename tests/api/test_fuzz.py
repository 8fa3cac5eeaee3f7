"""The fuzzing gate: schemathesis over every documented operation, on each database.

Every answer must be documented (status, content type, body schema) and none may be a 500.
The caller holds a real admin key of a tenant with a seeded hotel, so path ids hit real objects
part of the time. Channel calls go to a transport that answers at once (no network).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import schemathesis
import time_machine
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.checks import CheckContext
from schemathesis.core.failures import FailureGroup, ServerError
from schemathesis.core.transport import Response
from schemathesis.schemas import APIOperation, BaseSchema
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.types import ASGIApp, Receive, Scope, Send

from innsync.api import problems
from innsync.api.app import create_app
from innsync.crypto import SecretBox
from innsync.settings import Settings
from tests.api.helpers import ok
from tests.api.test_tenant_isolation import Tenant, build_tenant
from tests.conftest import Db

# A Thursday noon in UTC: what the fuzzer sends does not depend on today.
FROZEN_AT = datetime(2026, 3, 12, 12, 0, tzinfo=UTC)
# Examples per operation (valid and invalid, derandomized): about 80 operations x this, per
# database, inside the suite's 15-minute budget on two cores.
EXAMPLES = 10


def no_internal_error(_ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """A 500 is innsync's fault; a channel's failure is a documented 502 or 503."""
    if response.status_code == 500:
        raise ServerError(operation=case.operation.label, status_code=response.status_code)
    return None


CHECKS = [
    no_internal_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _channel_down(request: httpx.Request) -> httpx.Response:
    """Every channel refuses the credentials at once: calls end fast and without the network."""
    return httpx.Response(401, json={"error": "unauthorized"}, request=request)


@pytest.fixture
def fuzzed(db: Db, secret_box: SecretBox, settings: Settings) -> Iterator[tuple[FastAPI, Seeded]]:
    """The app on this test's database, a fixed clock, and a tenant with one of everything."""
    with time_machine.travel(FROZEN_AT, tick=True):
        app = create_app(
            settings, engine=db.engine, sessions=db.sessions, secret_box=secret_box, run_loops=False
        )
        app.state.channel_transport = httpx.MockTransport(_channel_down)
        with TestClient(app) as client:
            tenant = build_tenant(client, db, "fuzz")
            channex = ok(
                client.post(
                    f"/api/v1/properties/{tenant.property_id}/connections",
                    params={"test": "false"},
                    json={"channel": "channex", "name": "Channex", "config": {"api_key": "k"}},
                    headers=tenant.headers,
                ),
                201,
            )
            yield app, Seeded(tenant, channex["id"])


@dataclass(frozen=True)
class Seeded:
    """The fuzzing tenant's objects, and a connection whose channel calls reach the transport."""

    tenant: Tenant
    remote_connection_id: str


class AsServed:
    """What a server does with an exception once the 500 went out: log it and keep serving.

    Starlette re-raises after answering; without this the first 500 would stop the run instead
    of being reported with the other failures.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with contextlib.suppress(Exception):
            await self.app(scope, receive, send)


def _real_ids(seeded: Seeded) -> dict[str, list[str]]:
    """The seeded objects' ids by path parameter name."""
    tenant = seeded.tenant
    # The Channex one first: the generator favours the first, and its calls reach the transport.
    connections = [seeded.remote_connection_id, tenant.connection_id, tenant.ical_connection_id]
    return {
        "property_id": [tenant.property_id],
        "room_type_id": [tenant.room_type_id],
        "rate_plan_id": [tenant.rate_plan_id, tenant.derived_plan_id],
        "unit_id": [tenant.unit_id],
        "block_id": [tenant.block_id],
        "reservation_id": [tenant.reservation_id],
        "subscription_id": [tenant.subscription_id],
        "key_id": [tenant.key_id],  # the read key: revoking it never locks the caller out
        "connection_id": connections,
        "conflict_id": [tenant.conflict_id],
    }


def _with_real_ids(schema: BaseSchema, seeded: Seeded) -> None:
    """Half of the time, the ids in a path, a query or a body are the seeded objects'."""
    real_ids = _real_ids(seeded)
    first = {name: ids[0] for name, ids in real_ids.items()} | {
        "parent_id": seeded.tenant.rate_plan_id
    }

    def swap(value: Any) -> Any:
        """``value`` with each string under an id's name replaced by a seeded id, at any depth."""
        if isinstance(value, dict):
            return {
                key: first[key] if key in first and isinstance(item, str) else swap(item)
                for key, item in value.items()
            }
        if isinstance(value, list):
            return [swap(item) for item in value]
        return value

    def either(generated: Any) -> Any:
        return st.sampled_from([generated, swap(generated)])

    schema.hook("flatmap_query")(lambda _context, query: either(query))
    schema.hook("flatmap_body")(lambda _context, body: either(body))

    @schema.hook
    def flatmap_path_parameters(_context: Any, path_parameters: dict[str, Any] | None) -> Any:
        names = [name for name in path_parameters or {} if name in real_ids]
        if not names:
            return st.just(path_parameters)
        generated = path_parameters or {}
        real = st.fixed_dictionaries({name: st.sampled_from(real_ids[name]) for name in names})
        return st.one_of(st.just(generated), real.map(lambda ids: {**generated, **ids}))


def _fuzz(operation: APIOperation, schema: BaseSchema, headers: dict[str, str]) -> None:
    """Valid and invalid requests to one operation; raises on the first answer that fails."""
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE, hooks=schema.hooks),
        operation.as_strategy(GenerationMode.NEGATIVE, hooks=schema.hooks),
    )

    @given(case=cases)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Case) -> None:
        try:
            case.call_and_validate(headers=headers, checks=CHECKS)
        except FailureGroup as group:
            found = "; ".join(f"{failure.title}: {failure.message}" for failure in group.exceptions)
            raise AssertionError(f"{found}\n  {case.as_curl_command()}") from None

    run()


@pytest.mark.backends("sqlite", "postgresql")
def test_no_operation_answers_500_or_off_its_documentation(
    fuzzed: tuple[FastAPI, Seeded],
) -> None:
    app, seeded = fuzzed
    schema = schemathesis.openapi.from_asgi("/openapi.json", AsServed(app))
    _with_real_ids(schema, seeded)
    failures: list[str] = []
    # Deletions last, so that the other operations meet the seeded objects.
    operations = sorted(
        (result.ok() for result in schema.get_all_operations()),
        key=lambda operation: operation.method.upper() == "DELETE",
    )
    assert len(operations) > 50
    for operation in operations:
        try:
            _fuzz(operation, schema, seeded.tenant.headers)
        except AssertionError as exc:  # every operation's failure is reported, not the first
            failures.append(f"{operation.label}: {exc}")
    assert not failures, "\n\n".join(failures)


def test_the_gate_fails_on_a_500_and_on_an_undocumented_answer() -> None:
    """The checks bite: an app with one broken and one undocumented route fails both."""
    broken = FastAPI()
    problems.install(broken)

    @broken.get("/boom")
    async def boom() -> dict[str, str]:
        raise RuntimeError("a bug")

    @broken.get("/teapot")
    async def teapot() -> JSONResponse:
        return JSONResponse({"short": "and stout"}, status_code=418)

    schema = schemathesis.openapi.from_asgi("/openapi.json", AsServed(broken))
    found = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        with pytest.raises(AssertionError) as failed:
            _fuzz(operation, schema, {})
        found[operation.path] = str(failed.value)
    assert "Server error" in found["/boom"], found
    assert "Undocumented status code" in found["/teapot"], found

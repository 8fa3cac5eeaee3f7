"""The OpenAPI document: every operation has a readable id, a description and its error answers."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from innsync.api.app import API_PREFIX
from innsync.api.openapi import CHANNEL_CALLS, CONFLICTS
from innsync.api.problems import PROBLEM_JSON, Problem
from tests.api.helpers import new_tenant
from tests.conftest import Db

READABLE_ID = re.compile(r"^[a-z]+(?:[A-Z][a-z0-9]*)*$")
PROBLEM_CONTENT = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}


@pytest.fixture
def document(client: TestClient) -> dict[str, Any]:
    answer = client.get("/openapi.json")
    assert answer.status_code == 200
    body: dict[str, Any] = answer.json()
    return body


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, by_method in document["paths"].items()
        for method, operation in by_method.items()
    ]


def expected_errors(path: str, operation: dict[str, Any]) -> set[str]:
    parameters = operation.get("parameters", [])
    wanted = {"500"}
    if path.startswith(API_PREFIX):
        wanted |= {"401", "403", "429"}
    if any(
        parameter["in"] == "path"
        or (parameter["in"] == "query" and parameter["name"].endswith("_id"))
        for parameter in parameters
    ):
        wanted.add("404")
    if "requestBody" in operation:
        wanted |= {"400", "408", "413", "422"}
    if parameters:
        wanted.add("422")
    if operation["operationId"] in CONFLICTS:
        wanted.add("409")
    if operation["operationId"] in CHANNEL_CALLS:
        wanted |= {"502", "503"}
    return wanted


def test_every_operation_has_a_readable_unique_id_and_a_description(
    document: dict[str, Any],
) -> None:
    found = operations(document)
    assert len(found) > 50
    ids = [operation["operationId"] for _, _, operation in found]
    assert len(set(ids)) == len(ids)
    for method, path, operation in found:
        assert READABLE_ID.match(operation["operationId"]), (method, path, operation["operationId"])
        assert len(operation["operationId"]) <= 30, operation["operationId"]
        assert operation.get("description", "").strip(), f"{method} {path} has no description"
    by_id = {operation["operationId"]: (method, path) for method, path, operation in found}
    assert by_id["createReservation"] == (
        "POST",
        f"{API_PREFIX}/properties/{{property_id}}/reservations",
    )
    assert by_id["writeAri"] == ("POST", f"{API_PREFIX}/properties/{{property_id}}/ari")
    assert set(CONFLICTS) <= set(by_id), "a 409 is documented for an operation that is gone"
    assert set(CHANNEL_CALLS) <= set(by_id)


def test_every_operation_documents_its_error_answers_as_problems(
    document: dict[str, Any],
) -> None:
    for method, path, operation in operations(document):
        answers = operation["responses"]
        missing = expected_errors(path, operation) - set(answers)
        assert not missing, f"{method} {path} does not document {sorted(missing)}"
        for status, answer in answers.items():
            if not status.startswith(("4", "5")) or (path, status) == ("/readyz", "503"):
                continue
            assert answer["content"] == PROBLEM_CONTENT, f"{method} {path} {status}"
            assert answer["description"] not in ("", "Validation Error"), f"{method} {path}"
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert set(schemas["Problem"]["required"]) == {"title", "status", "detail"}


def test_an_error_answer_is_the_documented_problem(client: TestClient, db: Db) -> None:
    caller = new_tenant(db.sessions)
    missing = client.get(f"{API_PREFIX}/properties/{uuid.uuid4()}", headers=caller.headers)
    invalid = client.post(
        f"{API_PREFIX}/properties",
        json={"name": "", "timezone": "Mars/Olympus"},
        headers=caller.headers,
    )
    assert (missing.status_code, invalid.status_code) == (404, 422)
    for answer in (missing, invalid):
        assert answer.headers["content-type"] == PROBLEM_JSON
        assert Problem.model_validate(answer.json()).status == answer.status_code
    assert Problem.model_validate(invalid.json()).errors

"""The OpenAPI document: readable operation ids and every operation's error answers.

Error answers are the same few everywhere (``api/problems.py``), so they are documented here from
what an operation takes (an API key, path ids, a body, parameters) rather than repeated on each
route; the 409s, which depend on the operation, are listed by operation id below.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from starlette.staticfiles import StaticFiles

from innsync.api.problems import PROBLEM_JSON, Problem

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
SERVER_ERROR = "Unexpected error on innsync's side; it was logged"
KEYED_ERRORS = {
    "401": "No API key, or an invalid or revoked one (`Authorization: Bearer isk_…`)",
    "403": "The API key lacks the scope this operation needs (read < write < admin)",
    "429": "Too many failed authentications from this address, or too many uploads in "
    "progress from it; `Retry-After` says when to try again",
}
NOT_FOUND = "Nothing with this id in the caller's tenant"
BODY_ERRORS = {
    "400": "The body is not valid JSON",
    "408": "The body did not arrive within `INNSYNC_HTTP_BODY_TIMEOUT_SECONDS`",
    "413": "The body is larger than `INNSYNC_MAX_REQUEST_BYTES`, declared or streamed",
}
INVALID = "Invalid fields: `errors` points at each one with what is wrong"
CHANNEL_ERRORS = {
    "502": "The channel refused the credentials or the request; `detail` says what it answered",
    "503": "The channel is unavailable; `detail` says when to retry",
}
DATABASE_BUSY = (
    "The database is busy (a lock held elsewhere past the wait): nothing was written unless "
    "`detail` says which entries were; retry after `Retry-After` seconds"
)
# The 409 of every PMS ARI write to a property whose ARI comes from a connection (marketplace/).
CHANNEL_SOURCED = "; or the property's ARI comes from a connection (`PUT .../ari-source`)"
# When an operation answers 409, by operation id. Routes may declare their own 409 instead.
CONFLICTS = {
    "createRoomType": "A room type with this code exists in the property" + CHANNEL_SOURCED,
    "updateRoomType": "A room type with this code exists in the property" + CHANNEL_SOURCED,
    "deleteRoomType": "Rate plans, reservations, blocks, ledger rows or mappings use the room type"
    + CHANNEL_SOURCED,
    "createUnit": "A unit with this name exists in the property",
    "deleteUnit": "The unit is assigned to reservations",
    "createRatePlan": "A rate plan with this code exists in the property" + CHANNEL_SOURCED,
    "updateRatePlan": "A rate plan with this code exists in the property" + CHANNEL_SOURCED,
    "deleteRatePlan": "Other plans derive from it, it is mapped, or it has reservations"
    + CHANNEL_SOURCED,
    "writeAri": "The property's ARI comes from a connection (`PUT .../ari-source`); nothing "
    "was written",
    "createBlock": "The property's ARI comes from a connection (`PUT .../ari-source`)",
    "deleteBlock": "The property's ARI comes from a connection (`PUT .../ari-source`)",
    "deleteProperty": "The property still has room types, reservations or connections that are "
    "not disconnected; `detail` names them",
    "modifyReservation": "The reservation is cancelled, or a night lacks free units; for a "
    "property whose ARI comes from a connection, the new stay is not bookable by its reported "
    "availability and restrictions (`detail` says which)",
    "provision": "The channel cannot provision properties, or the connection is not set up",
    "readRemoteCatalog": "The connection is not set up",
    "registerWebhooks": "Webhooks are off for this connection, or the channel takes none",
    "testConnection": "The connection is not set up",
    "deleteConnection": "With `remove_remote`: the channel cannot remove its room types and "
    "rate plans, or the connection is not set up",
    "removeUnused": "The channel cannot remove its room types and rate plans, or the connection "
    "is not set up",
}
# Operations that call the channel while the request waits (``api/channel_calls.py``).
CHANNEL_CALLS = (
    "provision",
    "readRemoteCatalog",
    "registerWebhooks",
    "testConnection",
    "deleteConnection",
    "removeUnused",
    "createConnection",
    "updateConnection",
    "pullOneBooking",
    "reconciliationReport",
)


def operation_id(route: APIRoute) -> str:
    """The route function's name in camelCase: ``create_reservation`` -> ``createReservation``."""
    first, *rest = route.name.split("_")
    return first + "".join(word.capitalize() for word in rest)


def install(app: FastAPI, api_prefix: str) -> None:
    """Serve the document with the error answers added (built once, on first request)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = with_error_answers(document, api_prefix)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


DOCS_STATIC = "/docs/static"
# Swagger UI's assets, vendored from npm (static/VENDORED.md): /docs works offline.
SWAGGER_JS = "swagger-ui-bundle-5.35.0.js"
SWAGGER_CSS = "swagger-ui-5.35.0.css"
SWAGGER_ICON = "swagger-favicon-32x32.png"


def install_docs(app: FastAPI) -> None:
    """The API reference at /docs, every asset served by innsync itself (no CDN)."""
    app.mount(
        DOCS_STATIC, StaticFiles(directory=Path(__file__).parent / "static"), name="docs-static"
    )

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} API reference",
            swagger_js_url=f"{DOCS_STATIC}/{SWAGGER_JS}",
            swagger_css_url=f"{DOCS_STATIC}/{SWAGGER_CSS}",
            swagger_favicon_url=f"{DOCS_STATIC}/{SWAGGER_ICON}",
            # Swagger UI would otherwise send the document to validator.swagger.io.
            swagger_ui_parameters={"validatorUrl": None},
        )


def with_error_answers(document: dict[str, Any], api_prefix: str) -> dict[str, Any]:
    """Add each operation's error answers, all as ``Problem``; drop FastAPI's validation shape."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    problem_schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(problem_schema.pop("$defs", {}))
    schemas["Problem"] = problem_schema
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    for path, operations in document.get("paths", {}).items():
        for operation in operations.values():
            _add_errors(path, operation, api_prefix)
    return document


def _add_errors(path: str, operation: dict[str, Any], api_prefix: str) -> None:
    answers: dict[str, dict[str, Any]] = operation.setdefault("responses", {})
    parameters = operation.get("parameters", [])
    wanted: dict[str, str] = {}
    if path.startswith(api_prefix):
        wanted.update(KEYED_ERRORS)
    if any(_names_an_object(parameter) for parameter in parameters):
        wanted["404"] = NOT_FOUND
    if "requestBody" in operation:
        wanted.update(BODY_ERRORS)
    if parameters or "requestBody" in operation:
        wanted["422"] = INVALID
    if operation.get("operationId") in CONFLICTS:
        wanted["409"] = CONFLICTS[operation["operationId"]]
    if operation.get("operationId") in CHANNEL_CALLS:
        wanted.update(CHANNEL_ERRORS)
    if path.startswith(api_prefix):
        wanted.setdefault("503", DATABASE_BUSY)
    wanted["500"] = SERVER_ERROR
    for status, description in wanted.items():
        answers.setdefault(status, {"description": description})
    for status, answer in answers.items():
        if status.startswith(("4", "5")) and _is_problem(answer):
            if answer.get("description") in (None, "", "Validation Error"):
                answer["description"] = wanted.get(status, INVALID)
            answer["content"] = {PROBLEM_JSON: {"schema": PROBLEM_REF}}


def _names_an_object(parameter: dict[str, Any]) -> bool:
    """A path parameter, or a filter by id (``?property_id=``): either may name nothing."""
    return parameter.get("in") == "path" or (
        parameter.get("in") == "query" and str(parameter.get("name", "")).endswith("_id")
    )


def _is_problem(answer: dict[str, Any]) -> bool:
    """True unless a route documented a body of its own (``/readyz``'s 503)."""
    content = answer.get("content")
    if not content:
        return True
    reference: str = content.get("application/json", {}).get("schema", {}).get("$ref", "")
    return reference.endswith("/HTTPValidationError")

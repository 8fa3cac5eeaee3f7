"""Requests and responses checked against Beds24's own OpenAPI file (jsonschema).

The file is Beds24's own, copied unchanged from ``shared/reference/beds24-openapi-v2.yaml``
into ``tests/channels/reference/`` so that a clean checkout validates against it. A request
must name a documented path and method, send only documented query parameters with values of
their declared types, send the required headers, and carry a body that validates against the
operation's request schema; a response must validate against the schema declared for its
status.

Two readings of the file, both from its own words: OpenAPI 3.0's ``nullable: true`` is a
JSON-schema ``null`` type, and the calendar entry's fields take ``null`` ("To remove any
property, set the value to null", schema ``calendar``).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import jsonschema
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

OPENAPI_PATH = Path(__file__).parent / "reference" / "beds24-openapi-v2.yaml"
BASE_PATH = "/v2"
_URI = "urn:beds24-openapi"


def _nullable(node: Any, *, all_nullable: bool = False) -> Any:
    if isinstance(node, dict):
        shown = {key: _nullable(value, all_nullable=all_nullable) for key, value in node.items()}
        if (shown.pop("nullable", False) or all_nullable) and isinstance(shown.get("type"), str):
            shown["type"] = [shown["type"], "null"]
            if "enum" in shown:
                shown["enum"] = [*shown["enum"], None]
        return shown
    if isinstance(node, list):
        return [_nullable(item, all_nullable=all_nullable) for item in node]
    return node


@cache
def document() -> dict[str, Any]:
    loaded = yaml.safe_load(OPENAPI_PATH.read_text())
    doc: dict[str, Any] = _nullable(loaded)
    entry = doc["components"]["schemas"]["calendar"]["properties"]["calendar"]["items"]
    entry["properties"] = {
        name: _nullable(copy.deepcopy(schema), all_nullable=True)
        for name, schema in entry["properties"].items()
    }
    return doc


def _validator(schema: dict[str, Any]) -> jsonschema.Draft4Validator:
    registry: Registry[Any] = Registry().with_resource(
        _URI, Resource.from_contents(document(), default_specification=DRAFT4)
    )
    return jsonschema.Draft4Validator(
        schema, registry=registry, format_checker=jsonschema.FormatChecker()
    )


def _ref(node: dict[str, Any]) -> dict[str, Any]:
    """A schema with its local ``#/...`` references pointed into the registered document."""
    text = json.dumps(node).replace('"$ref": "#/', f'"$ref": "{_URI}#/')
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = document()
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _errors(schema: dict[str, Any], value: Any, where: str) -> list[str]:
    return [
        f"{where}: {error.message} at {'/'.join(map(str, error.absolute_path))}"
        for error in _validator(_ref(schema)).iter_errors(value)
    ]


def _operation(method: str, path: str) -> dict[str, Any] | None:
    item = document()["paths"].get(path.removeprefix(BASE_PATH))
    return None if item is None else item.get(method.lower())


def _query_value_errors(name: str, value: str, schema: dict[str, Any]) -> list[str]:
    schema = _resolve(schema)
    kind = schema.get("type")
    if kind == "array":
        return _query_value_errors(name, value, schema.get("items", {}))
    problems = []
    if kind == "integer" and not value.lstrip("-").isdigit():
        problems.append(f"query {name}={value!r} is not an integer")
    if kind == "boolean" and value not in ("true", "false"):
        problems.append(f"query {name}={value!r} is not a boolean")
    if schema.get("format") == "date":
        try:
            date.fromisoformat(value)
        except ValueError:
            problems.append(f"query {name}={value!r} is not a date")
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"query {name}={value!r} is not one of the enum")
    return problems


def request_errors(request: httpx.Request) -> list[str]:
    """Why ``request`` does not follow the OpenAPI file (empty when it does)."""
    url = urlsplit(str(request.url))
    operation = _operation(request.method, url.path)
    where = f"{request.method} {url.path}"
    if operation is None:
        return [f"{where} is not in the OpenAPI file"]
    params = [_resolve(p) for p in operation.get("parameters", [])]
    query = {p["name"]: p for p in params if p.get("in") == "query"}
    headers = [p for p in params if p.get("in") == "header"]
    problems = []
    sent = parse_qsl(url.query, keep_blank_values=True)
    for name, value in sent:
        if name not in query:
            problems.append(f"{where}: query {name!r} is not documented")
        else:
            problems += [
                f"{where}: {p}" for p in _query_value_errors(name, value, query[name]["schema"])
            ]
    names = {name for name, _ in sent}
    problems += [
        f"{where}: required query {p['name']!r} missing"
        for p in query.values()
        if p.get("required") and p["name"] not in names
    ]
    problems += [
        f"{where}: required header {p['name']!r} missing"
        for p in headers
        if p.get("required") and p["name"] not in request.headers
    ]
    body_spec = operation.get("requestBody")
    if request.content:
        if body_spec is None:
            problems.append(f"{where}: a body is sent but none is documented")
        else:
            schema = body_spec["content"]["application/json"]["schema"]
            problems += _errors(schema, json.loads(request.content), f"{where} body")
    elif body_spec is not None and body_spec.get("required"):
        problems.append(f"{where}: the required body is missing")
    return problems


def response_errors(request: httpx.Request, response: httpx.Response) -> list[str]:
    """Why ``response`` does not follow the schema declared for its status (empty when it does)."""
    url = urlsplit(str(request.url))
    operation = _operation(request.method, url.path)
    where = f"{request.method} {url.path} -> {response.status_code}"
    if operation is None:
        return [f"{where}: the operation is not in the OpenAPI file"]
    declared = operation.get("responses", {}).get(str(response.status_code))
    if declared is None:
        # Statuses the file does not list (401, 429, 5xx) must still use the error envelope.
        if response.status_code == 429:
            return [] if response.json() == {"success": False} else [f"{where}: body"]
        schema = document()["components"]["schemas"]["UnsuccessfulApiResponse"]
        return _errors(schema, response.json(), where)
    content = _resolve(declared).get("content", {}).get("application/json")
    if content is None or "schema" not in content:
        return []
    return _errors(content["schema"], response.json(), where)


@dataclass
class Exchange:
    request: httpx.Request
    response: httpx.Response


@dataclass
class RecordingTransport(httpx.AsyncBaseTransport):
    """Passes every call to ``inner`` and keeps the request and the (read) response."""

    inner: httpx.AsyncBaseTransport
    exchanges: list[Exchange] = field(default_factory=list)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        content = await response.aread()
        kept = httpx.Response(
            response.status_code, headers=response.headers, content=content, request=request
        )
        if urlsplit(str(request.url)).path.startswith(BASE_PATH + "/"):
            self.exchanges.append(Exchange(request, kept))
        return httpx.Response(
            response.status_code, headers=response.headers, content=content, request=request
        )

    def response_problems(self) -> list[str]:
        """Every way the recorded answers leave the OpenAPI file (bad requests allowed)."""
        return [
            problem
            for exchange in self.exchanges
            for problem in response_errors(exchange.request, exchange.response)
        ]

    def problems(self) -> list[str]:
        """Every way the recorded requests and responses leave the OpenAPI file."""
        found: list[str] = []
        for exchange in self.exchanges:
            found += request_errors(exchange.request)
            found += response_errors(exchange.request, exchange.response)
        return found

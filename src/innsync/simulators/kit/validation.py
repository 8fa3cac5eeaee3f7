"""A vendor's errors, and FastAPI's body validation errors, answered in the vendor's envelope."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.responses import Response


@runtime_checkable
class VendorError(Protocol):
    """An exception that knows its answer in the vendor's envelope."""

    def response(self) -> Response: ...


def body_field_errors(exc: RequestValidationError) -> dict[str, list[str]]:
    """Messages by dotted field location, the ``body`` segment left out (``body`` if empty)."""
    details: dict[str, list[str]] = {}
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"] if part != "body") or "body"
        details.setdefault(where, []).append(str(error["msg"]))
    return details


def answer_errors_as(
    app: FastAPI,
    error_type: type[Exception],
    invalid: Callable[[dict[str, list[str]]], VendorError],
) -> None:
    """Answer ``error_type`` (a :class:`VendorError`) and invalid bodies (``invalid``) in kind."""

    async def on_error(_: Request, exc: Exception) -> Response:
        if not isinstance(exc, VendorError):  # pragma: no cover - registered for error_type only
            raise exc
        return exc.response()

    async def on_invalid_body(_: Request, exc: Exception) -> Response:
        if not isinstance(exc, RequestValidationError):  # pragma: no cover - registered for it
            raise exc
        return invalid(body_field_errors(exc)).response()

    app.add_exception_handler(error_type, on_error)
    app.add_exception_handler(RequestValidationError, on_invalid_body)

"""Channex's error envelope (§1.2) and the exception that carries it out of a handler."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from innsync.simulators.kit.validation import body_field_errors

FieldErrors = dict[str, list[str]]

# Ecto-style messages, as quoted in §1.5; "can't be blank" is the same framework's wording.
BLANK = "can't be blank"
INVALID = "is invalid"
NOT_FOUND_MESSAGE = "not found"


def error_body(code: str, title: str, details: FieldErrors | list[str] | None = None) -> Any:
    """The §1.2 envelope: code and title always, details only when there are some."""
    errors: dict[str, Any] = {"code": code, "title": title}
    if details is not None:
        errors["details"] = details
    return {"errors": errors}


class ChannexError(Exception):
    """An HTTP error answered in Channex's envelope."""

    def __init__(
        self,
        status: int,
        code: str,
        title: str,
        details: FieldErrors | list[str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}")
        self.status = status
        self.code = code
        self.title = title
        self.details = details

    def response(self) -> JSONResponse:
        return JSONResponse(
            error_body(self.code, self.title, self.details), status_code=self.status
        )


def bad_request(*messages: str) -> ChannexError:
    """400: §1.2 says its details are an array of strings."""
    return ChannexError(400, "bad_request", "Bad Request", list(messages))


def validation_error(details: FieldErrors) -> ChannexError:
    """422: §1.2 says its details are keyed by field."""
    return ChannexError(422, "validation_error", "Validation Error", details)


def not_found() -> ChannexError:
    # §1.2 quotes the title with its misspelling; a client must not depend on the title.
    return ChannexError(404, "not_found", "Resouce Not Found")


def unauthorized() -> ChannexError:
    return ChannexError(401, "unauthorized", "Unauthorized")


def too_many_requests() -> ChannexError:
    return ChannexError(429, "http_too_many_requests", "Too Many Requests")


def install_error_handlers(app: FastAPI) -> None:
    """Answer every error, including framework ones, in the §1.2 envelope."""

    async def on_channex_error(_: Request, exc: Exception) -> JSONResponse:
        if not isinstance(exc, ChannexError):  # pragma: no cover - registered for this type only
            raise exc
        return exc.response()

    async def on_http_error(_: Request, exc: Exception) -> JSONResponse:
        if not isinstance(exc, StarletteHTTPException):  # pragma: no cover
            raise exc
        if exc.status_code == 404:
            return not_found().response()
        code = "method_not_allowed" if exc.status_code == 405 else "http_error"
        return ChannexError(exc.status_code, code, str(exc.detail)).response()

    async def on_body_error(_: Request, exc: Exception) -> JSONResponse:
        if not isinstance(exc, RequestValidationError):  # pragma: no cover
            raise exc
        return validation_error(body_field_errors(exc)).response()

    app.add_exception_handler(ChannexError, on_channex_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_body_error)

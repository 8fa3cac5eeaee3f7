"""Every error answer is ``application/problem+json`` (RFC 9457) with pointers to bad fields."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from innsync.api.security_headers import SECURITY_HEADERS, loggable_path
from innsync.db.busy import RETRY_AFTER_SECONDS, is_busy
from innsync.errors import DatabaseBusyError, DomainError, FieldProblem, TooManyRequestsError

logger = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"
BUSY_DETAIL = "the database is busy with other writes; nothing of this request was written, retry"


def problem(
    status: int,
    title: str,
    detail: str,
    problems: Sequence[FieldProblem] = (),
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if problems:
        body["errors"] = [{"pointer": p.pointer, "detail": p.detail} for p in problems]
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def pointer_of(location: Sequence[int | str]) -> str:
    """``("body", "entries", 3, "max_stay")`` becomes ``/entries/3/max_stay``."""
    parts = list(location)
    if parts and parts[0] == "body":
        parts = parts[1:]
    return "/" + "/".join(str(part).replace("~", "~0").replace("/", "~1") for part in parts)


def _validation_problems(exc: RequestValidationError) -> tuple[int, str, list[FieldProblem]]:
    errors = exc.errors()
    if any(error.get("type") == "json_invalid" for error in errors):
        detail = next(
            str(e.get("ctx", {}).get("error", ""))
            for e in errors
            if e.get("type") == "json_invalid"
        )
        return 400, f"the body is not valid JSON: {detail}".rstrip(": "), []
    found = []
    for error in errors:
        # Pydantic's own tags on unions (e.g. "function-after[...]") say nothing to a client.
        location = [part for part in error.get("loc", ()) if not str(part).startswith("function-")]
        found.append(FieldProblem(pointer_of(location), str(error.get("msg", "invalid"))))
    return 422, "the request has invalid fields", found


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_request: Request, exc: DomainError) -> JSONResponse:
        response = problem(exc.status, exc.title, exc.detail, exc.problems)
        if exc.status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="innsync"'
        if isinstance(exc, TooManyRequestsError):
            response.headers["Retry-After"] = str(exc.retry_after)
        elif exc.status == 503:
            response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

    async def _database(request: Request, exc: Exception) -> JSONResponse:
        # A lock held elsewhere past the wait (another writer, a long transaction) is a
        # "try again", not our failure: 503 with Retry-After. Anything else is a 500.
        if is_busy(exc):
            logger.warning("database busy", extra={"path": loggable_path(request.url.path)})
            return await _domain(request, DatabaseBusyError(BUSY_DETAIL))
        return await _unexpected(request, exc)

    app.add_exception_handler(DBAPIError, _database)
    app.add_exception_handler(PoolTimeoutError, _database)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        status, detail, found = _validation_problems(exc)
        return problem(status, "Invalid input" if status == 422 else "Bad request", detail, found)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        response = problem(exc.status_code, _title(exc.status_code), str(exc.detail))
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(ClientDisconnect)
    async def _gone(request: Request, _exc: ClientDisconnect) -> JSONResponse:
        # The client gave up mid-upload: one line, no traceback (nobody reads the answer).
        client = request.client.host if request.client else ""
        logger.warning(
            "client disconnected before its request body was complete",
            extra={"path": loggable_path(request.url.path), "client": client},
        )
        return problem(400, "Bad request", "the client disconnected during the request")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.error(
            "unhandled error", exc_info=exc, extra={"path": loggable_path(request.url.path)}
        )
        # Answered by Starlette's outermost middleware, outside the one adding these headers.
        return problem(
            500,
            "Internal error",
            "something went wrong on our side; it was logged",
            headers=dict(SECURITY_HEADERS),
        )


def _title(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class ProblemField(BaseModel):
    """One invalid field of a request."""

    pointer: str = Field(description="JSON pointer into the request, e.g. /entries/3/max_stay")
    detail: str


class Problem(BaseModel):
    """Every error answer: ``application/problem+json`` (RFC 9457)."""

    type: str = "about:blank"
    title: str = Field(description="Short, the same for every error of this kind")
    status: int
    detail: str = Field(description="What went wrong this time, for a person to read")
    errors: list[ProblemField] | None = Field(
        default=None, description="Invalid fields, when the problem is with the request's fields"
    )

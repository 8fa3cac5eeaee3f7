"""Octorate's error answers: a JSON body naming the error ``type`` (OpenAPI error glossary)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from innsync.simulators.kit.validation import answer_errors_as, body_field_errors


class OctorateError(Exception):
    """A refusal as Octorate words it: ``{"type": "ApiLoginExpired", "message": "..."}``.

    The ``type`` names come from the OpenAPI glossary (ApiParamsExemption, ApiKeyInvalid,
    ApiQuotaException…) and from clients reading ``json.type`` [3P]; the ``message`` and
    ``status`` fields beside it are [UNCONFIRMED].
    """

    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message

    def response(self) -> JSONResponse:
        body = {"type": self.error_type, "message": self.message, "status": self.status}
        return JSONResponse(body, status_code=self.status)


def invalid_params(details: dict[str, list[str]]) -> OctorateError:
    """A refused body or parameter: 400 ``ApiParamsExemption`` with the fields at fault."""
    reasons = "; ".join(f"{where}: {', '.join(why)}" for where, why in sorted(details.items()))
    return OctorateError(400, "ApiParamsExemption", reasons)


def missing(what: str) -> OctorateError:
    return OctorateError(404, "ApiResourceMissing", f"{what} not found")


# OpenAPI error glossary: the type Octorate names for each status the framework answers itself.
_FRAMEWORK_TYPES = {404: "NotFound", 405: "MethodNotAllowed"}


def answer_errors(app: FastAPI) -> None:
    """Every error in Octorate's body: its own, invalid input, and unknown routes or methods.

    A body that is not JSON is ``JsonParseExemption``, any other invalid input
    ``ApiParamsExemption`` (both 400, OpenAPI glossary).
    """
    answer_errors_as(app, OctorateError, invalid_params)

    async def on_invalid(_: Request, exc: Exception) -> Response:
        if not isinstance(exc, RequestValidationError):  # pragma: no cover - registered for it
            raise exc
        if any(error.get("type") == "json_invalid" for error in exc.errors()):
            return OctorateError(400, "JsonParseExemption", "the body is not valid JSON").response()
        return invalid_params(body_field_errors(exc)).response()

    async def on_http(_: Request, exc: Exception) -> Response:
        if not isinstance(exc, StarletteHTTPException):  # pragma: no cover - registered for it
            raise exc
        kind = _FRAMEWORK_TYPES.get(exc.status_code, "Bad Request")
        response = OctorateError(exc.status_code, kind, str(exc.detail)).response()
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    app.add_exception_handler(RequestValidationError, on_invalid)
    app.add_exception_handler(StarletteHTTPException, on_http)

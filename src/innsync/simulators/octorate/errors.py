"""Octorate's error answers: a JSON body naming the error ``type`` (OpenAPI error glossary)."""

from __future__ import annotations

from fastapi.responses import JSONResponse


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

"""Beds24's error envelope (§2.2, schema ``UnsuccessfulApiResponse``)."""

from __future__ import annotations

from fastapi.responses import JSONResponse


class Beds24Error(Exception):
    """A refusal as Beds24 words it: ``{"success": false, "type": "error", "code", "error"}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def response(self) -> JSONResponse:
        if self.status == 429:
            # §2.3 [3P]: past the credit limit the body is only {"success": false}.
            return JSONResponse({"success": False}, status_code=429)
        body = {"success": False, "type": "error", "code": self.status, "error": self.message}
        return JSONResponse(body, status_code=self.status)


def invalid_sim_input(details: dict[str, list[str]]) -> Beds24Error:
    """A refused `/_sim/` control body, in the same envelope."""
    reasons = "; ".join(f"{where}: {', '.join(why)}" for where, why in sorted(details.items()))
    return Beds24Error(400, reasons)

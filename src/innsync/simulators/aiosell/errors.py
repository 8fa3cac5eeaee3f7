"""Aiosell's reply envelope: `{"success": bool, "message": str}` (§1.3, §1.4)."""

from __future__ import annotations

from fastapi.responses import JSONResponse


class AiosellError(Exception):
    """A refusal in Aiosell's envelope."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def response(self) -> JSONResponse:
        return JSONResponse({"success": False, "message": self.message}, status_code=self.status)


def invalid_sim_input(details: dict[str, list[str]]) -> AiosellError:
    """A refused `/_sim/` control body, in the same envelope."""
    reasons = "; ".join(f"{where}: {', '.join(why)}" for where, why in sorted(details.items()))
    return AiosellError(422, reasons)


def success(message: str) -> dict[str, object]:
    return {"success": True, "message": message}

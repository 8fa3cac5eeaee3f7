"""FastAPI's body validation errors as the field → messages map simulators answer with."""

from __future__ import annotations

from fastapi.exceptions import RequestValidationError


def body_field_errors(exc: RequestValidationError) -> dict[str, list[str]]:
    """Messages by dotted field location, the ``body`` segment left out (``body`` if empty)."""
    details: dict[str, list[str]] = {}
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"] if part != "body") or "body"
        details.setdefault(where, []).append(str(error["msg"]))
    return details

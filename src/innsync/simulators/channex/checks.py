"""Field-by-field validation of write bodies, collecting messages the way Channex reports them."""

from __future__ import annotations

from typing import Any

from innsync.simulators.channex.errors import BLANK, INVALID, FieldErrors, validation_error
from innsync.simulators.channex.state import Record


class Checker:
    """Collects per-field messages while reading one write body."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.errors: FieldErrors = {}

    def add(self, field: str, message: str) -> None:
        self.errors.setdefault(field, []).append(message)

    def text(self, field: str, *, required: bool = False, max_length: int = 255) -> str | None:
        value = self.data.get(field)
        if value is None or value == "":
            if required:
                self.add(field, BLANK)
            return None
        if not isinstance(value, str):
            self.add(field, INVALID)
            return None
        if len(value) > max_length:
            self.add(field, f"should be at most {max_length} character(s)")
        return value

    def integer(
        self,
        field: str,
        *,
        required: bool = False,
        minimum: int | None = None,
        maximum: int | None = None,
        default: int | None = None,
    ) -> int | None:
        value = self.data.get(field)
        if value is None:
            if required:
                self.add(field, BLANK)
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self.add(field, INVALID)
            return None
        if minimum is not None and value < minimum:
            self.add(field, f"must be greater than or equal to {minimum}")
        if maximum is not None and value > maximum:
            self.add(field, f"must be less than or equal to {maximum}")
        return value

    def boolean(self, field: str, default: bool) -> bool:
        value = self.data.get(field, default)
        if not isinstance(value, bool):
            self.add(field, INVALID)
            return default
        return value

    def choice(self, field: str, choices: frozenset[str], default: str | None) -> str | None:
        value = self.data.get(field, default)
        if value is not None and value not in choices:
            self.add(field, INVALID)
        return value if isinstance(value, str) or value is None else None

    def done(self) -> None:
        if self.errors:
            raise validation_error(self.errors)


def merged(body: dict[str, Any], existing: Record | None, immutable: tuple[str, ...]) -> Checker:
    """A checker over the existing attributes updated with the body (PUT is a partial update)."""
    data = dict(existing.attributes) if existing else {}
    checker = Checker({**data, **body})
    if existing:
        for field in immutable:
            if field in body and body[field] != existing.attributes.get(field):
                checker.add(field, "can't be changed")
    return checker

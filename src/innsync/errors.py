"""Domain errors that the API turns into problem+json answers; raised by services."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One thing wrong with the input, located by a JSON pointer (``/entries/3/max_stay``)."""

    pointer: str
    detail: str


class DomainError(Exception):
    """Base of errors a caller can act on; ``status`` is the HTTP status it maps to."""

    status = 400
    title = "Bad request"

    def __init__(self, detail: str, problems: list[FieldProblem] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.problems = problems or []


class NotFoundError(DomainError):
    status = 404
    title = "Not found"


class ConflictError(DomainError):
    status = 409
    title = "Conflict"


class InvalidInputError(DomainError):
    status = 422
    title = "Invalid input"


class PermissionDeniedError(DomainError):
    status = 403
    title = "Forbidden"


class AuthenticationError(DomainError):
    status = 401
    title = "Unauthorized"


class TooManyRequestsError(DomainError):
    """Over a budget; ``retry_after`` (seconds) is sent as the ``Retry-After`` header."""

    status = 429
    title = "Too many requests"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


@dataclass(slots=True)
class ProblemCollector:
    """Gathers every problem of an input before raising, so a caller can fix them all at once."""

    problems: list[FieldProblem] = field(default_factory=list)

    def add(self, pointer: str, detail: str) -> None:
        self.problems.append(FieldProblem(pointer, detail))

    def raise_if_any(self, detail: str = "the request has invalid fields") -> None:
        if self.problems:
            raise InvalidInputError(detail, list(self.problems))


class DatabaseBusyError(DomainError):
    """The database could not take the write in time (a lock held elsewhere): retry soon."""

    status = 503
    title = "Service unavailable"

"""HTML forms on the API's input models: values kept as typed, problems placed by field."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError

from innsync.errors import DomainError

ModelT = TypeVar("ModelT", bound=BaseModel)
# Pydantic's words where they would quote a regular expression at a person.
FRIENDLY = {
    "string_pattern_mismatch": "Use letters, digits, '.', '_' and '-', starting with a letter "
    "or a digit (64 at most).",
}
# Longest value any set-up field takes (a cancellation policy: 4000 characters).
MAX_FIELD = 4000


@dataclass
class Form:
    """What a form holds: the values as typed, and problems by field name ("" for the form)."""

    values: dict[str, str] = field(default_factory=dict)
    lists: dict[str, list[str]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def get(self, name: str) -> str:
        return self.values.get(name, "")

    def add(self, name: str, message: str) -> None:
        self.errors.setdefault(name, message)


async def read_form(request: Request, names: Iterable[str], lists: Iterable[str] = ()) -> Form:
    """The named fields of the posted form (others, and non-text parts, are ignored)."""
    posted = await request.form()
    values = {}
    for name in names:
        value = posted.get(name)
        values[name] = value.strip()[:MAX_FIELD] if isinstance(value, str) else ""
    chosen = {
        name: [v[:MAX_FIELD] for v in posted.getlist(name) if isinstance(v, str)] for name in lists
    }
    return Form(values, chosen)


def field_of(location: tuple[int | str, ...], message: str, fields: Iterable[str]) -> str:
    """The form field a problem belongs to: the most specific part of its location that is a
    field, else the field its message names first (a model's cross-field rule,
    "default_occupancy cannot exceed max_occupancy"), else the whole form ("")."""
    names = list(fields)
    for part in reversed(location):
        if isinstance(part, str) and part in names:
            return part
    named = [
        (found.start(), name)
        for name in names
        if (found := re.search(rf"\b{re.escape(name)}\b", message)) is not None
    ]
    return min(named)[1] if named else ""


def validate(
    model: type[ModelT], data: dict[str, Any], form: Form, aliases: dict[str, str] | None = None
) -> ModelT | None:
    """``data`` as the model, or ``None`` with each problem placed on ``form``.

    ``aliases`` names the form field of a nested location part (``rules`` → ``rule_value``)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        names = [*form.values, *form.lists]
        for error in exc.errors():
            message = FRIENDLY.get(error["type"], str(error["msg"]).removeprefix("Value error, "))
            location = tuple(
                (aliases or {}).get(part, part) if isinstance(part, str) else part
                for part in error["loc"]
            )
            form.add(field_of(location, message, names), message)
        return None


def place(error: DomainError, form: Form, words: dict[str, str] | None = None) -> None:
    """A service's refusal on the field it names, else on the field of the first of ``words``
    its message contains (``{"derive": "parent_id"}``), else on the form."""
    names = [*form.values, *form.lists]
    problems = error.problems or []
    for problem in problems:
        parts = tuple(part for part in problem.pointer.split("/") if part)
        form.add(field_of(parts, problem.detail, names), problem.detail)
    if problems:
        return
    name = field_of((), error.detail, names)
    if not name:
        name = next((field for word, field in (words or {}).items() if word in error.detail), "")
    form.add(name, error.detail)


def number(form: Form, name: str, data: dict[str, Any]) -> None:
    """Put a whole-number field into ``data`` when given; anything else is the field's problem."""
    text = form.get(name)
    if not text:
        return
    if re.fullmatch(r"-?\d{1,9}", text):
        data[name] = int(text)
    else:
        form.add(name, "Enter a whole number.")


def numbers(form: Form, name: str, data: dict[str, Any]) -> None:
    """A list of whole numbers typed as "1, 2, 3"."""
    text = form.get(name)
    if not text:
        data[name] = []
        return
    parts = [part.strip() for part in text.split(",")]
    if all(re.fullmatch(r"\d{1,4}", part) for part in parts):
        data[name] = [int(part) for part in parts]
    else:
        form.add(name, "Enter whole numbers separated by commas, e.g. 1, 2.")

"""Channex list conventions (§1.2): `pagination[...]`, `order[...]` and `filter[...]` parameters."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from starlette.datastructures import QueryParams

from innsync.simulators.channex.errors import bad_request

# §1.2: pages start at 1, the default limit is 10 and the maximum 100.
DEFAULT_LIMIT = 10
MAX_LIMIT = 100

_FILTER = re.compile(r"^filter\[(\w+)\](?:\[(gt|gte|lt|lte|eq|not)\])?$")
_ORDER = re.compile(r"^order\[(\w+)\]$")
_PAGINATION = re.compile(r"^pagination\[(page|limit)\]$")

Operator = Literal["in", "gt", "gte", "lt", "lte", "eq", "not"]
Direction = Literal["asc", "desc"]


@dataclass(frozen=True, slots=True)
class Clause:
    """One `filter[field]` or `filter[field][op]` parameter."""

    field: str
    operator: Operator
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ListQuery:
    """A parsed list request."""

    page: int
    limit: int
    order_field: str
    direction: Direction
    clauses: tuple[Clause, ...]

    def filter_value(self, field: str) -> str | None:
        """The single equality value of `filter[field]`, if it was given."""
        for clause in self.clauses:
            if clause.field == field and clause.operator in ("in", "eq") and clause.values:
                return clause.values[0]
        return None


def _positive_int(raw: str, name: str) -> int:
    if not raw.isdigit() or int(raw) < 1:
        raise bad_request(f"{name} must be a positive integer")
    return int(raw)


def parse_list_query(
    params: QueryParams, default_order: tuple[str, Direction] = ("title", "asc")
) -> ListQuery:
    """Read the list parameters; the default order is by title ascending (§1.2)."""
    page, limit = 1, DEFAULT_LIMIT
    order_field, direction = default_order
    clauses: list[Clause] = []
    for key, value in params.multi_items():
        if match := _PAGINATION.match(key):
            number = _positive_int(value, key)
            if match.group(1) == "page":
                page = number
            else:
                # Over the maximum is clamped rather than refused: a client asking for more
                # than 100 still has to page.
                limit = min(number, MAX_LIMIT)
        elif match := _ORDER.match(key):
            if value not in ("asc", "desc"):
                raise bad_request(f"{key} must be asc or desc")
            order_field, direction = match.group(1), "asc" if value == "asc" else "desc"
        elif match := _FILTER.match(key):
            operator: Operator = "in"
            if match.group(2):
                operator = match.group(2)  # type: ignore[assignment]
            values = tuple(value.split(",")) if operator == "in" else (value,)
            clauses.append(Clause(match.group(1), operator, values))
    return ListQuery(page, limit, order_field, direction, tuple(clauses))


def _comparable(actual: Any, wanted: str) -> tuple[Any, Any]:
    if isinstance(actual, bool):
        return actual, wanted.lower() == "true"
    if isinstance(actual, int):
        try:
            return actual, int(wanted)
        except ValueError:
            return str(actual), wanted
    return ("" if actual is None else str(actual)), wanted


def _matches(attributes: dict[str, Any], clause: Clause) -> bool:
    if clause.field not in attributes:
        # Filters on fields a list does not expose are ignored here and handled by the caller.
        return True
    actual = attributes[clause.field]
    if clause.operator == "in":
        return any(left == right for left, right in (_comparable(actual, v) for v in clause.values))
    left, right = _comparable(actual, clause.values[0])
    if left is None or type(left) is not type(right):
        return False
    comparisons: dict[str, Callable[[Any, Any], bool]] = {
        "eq": lambda a, b: a == b,
        "not": lambda a, b: a != b,
        "gt": lambda a, b: a > b,
        "gte": lambda a, b: a >= b,
        "lt": lambda a, b: a < b,
        "lte": lambda a, b: a <= b,
    }
    return comparisons[clause.operator](left, right)


def select(
    rows: Sequence[dict[str, Any]], query: ListQuery
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Filter, order and page attribute rows; returns the page and the §1.2 `meta`."""
    kept = [row for row in rows if all(_matches(row, clause) for clause in query.clauses)]

    def key(row: dict[str, Any]) -> tuple[bool, str]:
        value = row.get(query.order_field)
        return value is None, "" if value is None else str(value)

    if query.direction == "asc":
        ordered = sorted(kept, key=key)
    else:
        # Reverse first so rows with equal keys come newest-first as well.
        ordered = sorted(reversed(kept), key=key, reverse=True)
    start = (query.page - 1) * query.limit
    meta = {"page": query.page, "limit": query.limit, "total": len(kept)}
    return ordered[start : start + query.limit], meta

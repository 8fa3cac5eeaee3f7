"""Query parameters shared by Octorate's list endpoints: dates and pages."""

from __future__ import annotations

from datetime import date
from typing import Any

from innsync.simulators.octorate.errors import OctorateError
from innsync.simulators.octorate.state import SimulatorState


def query_date(value: str | None, name: str) -> date:
    if not value:
        raise OctorateError(400, "ApiParamsExemption", f"{name} is required (YYYY-MM-DD)")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise OctorateError(400, "ApiParamsExemption", f"{name} must be YYYY-MM-DD") from None


def page_of(
    state: SimulatorState, items: list[Any], size: str | None, page: str | None
) -> tuple[list[Any], dict[str, int]]:
    """One page of ``items`` and the ``page`` block; a size past the cap is ApiParamsExemption
    (errPageSize, [3P])."""
    config = state.config
    try:
        per_page = int(size) if size else config.max_page_size
        number = int(page) if page else config.first_page
    except ValueError:
        raise OctorateError(400, "ApiParamsExemption", "size and page are integers") from None
    if not 1 <= per_page <= config.max_page_size:
        raise OctorateError(
            400, "ApiParamsExemption", f"errPageSize: size must be 1-{config.max_page_size}"
        )
    if number < config.first_page:
        raise OctorateError(400, "ApiParamsExemption", f"page starts at {config.first_page}")
    start = (number - config.first_page) * per_page
    total_pages = max(1, -(-len(items) // per_page))
    block = {
        "page": number,
        "size": per_page,
        "totalElements": len(items),
        "totalPages": total_pages,
    }
    return items[start : start + per_page], block

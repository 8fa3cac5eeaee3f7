"""The operator's date window (``INNSYNC_DATE_WINDOW_YEARS``) as a route dependency."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request


def date_window_years(request: Request) -> int:
    """How many years either side of a property's today a date may lie."""
    years: int = request.app.state.settings.date_window_years
    return years


WindowYears = Annotated[int, Depends(date_window_years)]

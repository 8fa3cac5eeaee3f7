"""The admin's operations pages: property set-up, sync history and dead letters, events and
webhooks (docs/admin.md)."""

from __future__ import annotations

from fastapi import APIRouter

from innsync.admin.ops import feed, history, setup
from innsync.admin.rendering import templates


def hide_query(url: str) -> str:
    """A subscription URL as pages show it: its query may hold the PMS's own token."""
    base, mark, _query = url.partition("?")
    return f"{base}?…" if mark else base


templates.env.filters["hide_query"] = hide_query

router = APIRouter()
router.include_router(setup.router)
router.include_router(history.router)
router.include_router(feed.router)

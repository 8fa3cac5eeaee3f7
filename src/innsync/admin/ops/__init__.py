"""The admin's operations pages: property set-up, sync history and dead letters, events and
webhooks (docs/admin.md)."""

from __future__ import annotations

from fastapi import APIRouter

from innsync.admin.ops import feed, history, setup

router = APIRouter()
router.include_router(setup.router)
router.include_router(history.router)
router.include_router(feed.router)

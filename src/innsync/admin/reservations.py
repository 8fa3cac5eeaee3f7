"""The admin's reservations and conflicts pages: search, read, and resolve conflicts.

Reads and the resolution go through the services the JSON API uses
(``reservations/listing.py``, ``service.py``, ``conflicts.py``), scoped to the user's tenant.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from innsync.admin.auth import ADMIN_PATH, AdminRefusalError, User, Writer
from innsync.admin.conflict_views import (
    LIST_LIMIT,
    ConflictView,
    conflict_view,
    listed_conflicts,
)
from innsync.admin.rendering import page
from innsync.admin.reservation_detail import reservation_detail
from innsync.admin.reservation_search import choices, parse_search, search_reservations
from innsync.api.deps import Db
from innsync.errors import ConflictError, NotFoundError
from innsync.reservations import conflicts
from innsync.reservations.models import OPEN, RESOLVED, STATUSES
from innsync.reservations.schemas import ConflictResolve
from innsync.tenants.users import SignedIn

router = APIRouter(prefix=ADMIN_PATH, include_in_schema=False)
CONFLICT_FILTERS = {"open": OPEN, "resolved": RESOLVED, "all": None}


@router.get("/reservations")
async def reservations_page(request: Request, db: Db, user: User) -> HTMLResponse:
    """Search the tenant's reservations; bad values come back with a message by their field."""
    search = parse_search(request.query_params)

    def build(session: Any) -> dict[str, Any]:
        properties, channels = choices(session, user.tenant_id)
        results = None if search.errors else search_reservations(session, user.tenant_id, search)
        return {"properties": properties, "channels": channels, "results": results}

    context = await db.read(build)
    context |= {"search": search, "statuses": STATUSES, "user": user, "active": "reservations"}
    return page(request, "res_reservations.html", context, 400 if search.errors else 200)


@router.get("/reservations/{reservation_id}")
async def reservation_page(
    request: Request, db: Db, user: User, reservation_id: uuid.UUID
) -> HTMLResponse:
    try:
        detail = await db.read(lambda s: reservation_detail(s, user.tenant_id, reservation_id))
    except NotFoundError as exc:
        raise AdminRefusalError(404, "No such reservation.") from exc
    context = {"detail": detail, "r": detail.reservation, "user": user, "active": "reservations"}
    return page(request, "res_reservation.html", context)


@router.get("/conflicts")
async def conflicts_page(
    request: Request, db: Db, user: User, status: str = "open"
) -> HTMLResponse:
    if status not in CONFLICT_FILTERS:
        raise AdminRefusalError(400, "Show open, resolved or all conflicts.")
    listed = await db.read(lambda s: listed_conflicts(s, user.tenant_id, CONFLICT_FILTERS[status]))
    context = {"listed": listed, "status": status, "limit": LIST_LIMIT, "user": user}
    context["active"] = "conflicts"
    return page(request, "res_conflicts.html", context)


async def _conflict(db: Db, user: SignedIn, conflict_id: uuid.UUID) -> ConflictView:
    try:
        return await db.read(lambda s: conflict_view(s, user.tenant_id, conflict_id))
    except NotFoundError as exc:
        raise AdminRefusalError(404, "No such conflict.") from exc


def _conflict_page(
    request: Request, view: ConflictView, user: SignedIn, error: str = "", status: int = 200
) -> HTMLResponse:
    context = {"view": view, "c": view.conflict, "user": user, "error": error}
    return page(request, "res_conflict.html", context | {"active": "conflicts"}, status)


@router.get("/conflicts/{conflict_id}")
async def conflict_page(
    request: Request, db: Db, user: User, conflict_id: uuid.UUID
) -> HTMLResponse:
    return _conflict_page(request, await _conflict(db, user, conflict_id), user)


@router.post("/conflicts/{conflict_id}/resolve")
async def resolve(request: Request, db: Db, user: Writer, conflict_id: uuid.UUID) -> Response:
    """Keep the PMS's version, take the channel's, or take the ticked fields from the channel."""
    form = await request.form()
    accept = form.get("accept")
    taken = [value for value in form.getlist("take") if isinstance(value, str)]
    try:
        # The ticked boxes only count for a merge: the other buttons take a version whole.
        data = ConflictResolve.model_validate(
            {"accept": accept, "fields": taken if accept == "merge" else None}
        )
    except ValidationError:
        view = await _conflict(db, user, conflict_id)
        message = (
            "Tick the fields to take from the channel, then merge."
            if accept == "merge"
            else "Choose how to resolve the conflict."
        )
        return _conflict_page(request, view, user, message, 400)
    try:
        # An admin user has no API key: the audit rows of the resolution name no key.
        await db.write(
            lambda s: conflicts.resolve_conflict(s, user.tenant_id, conflict_id, data, None)
        )
    except NotFoundError as exc:
        raise AdminRefusalError(404, "No such conflict.") from exc
    except ConflictError as exc:
        raise AdminRefusalError(409, str(exc)) from exc
    return RedirectResponse(f"{ADMIN_PATH}/conflicts/{conflict_id}", status_code=303)

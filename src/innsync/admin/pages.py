"""The admin's routes: sign-in, sign-out, the dashboard and its self-refreshing part."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from innsync.admin.auth import (
    ADMIN_PATH,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    AdminRefusalError,
    FormUser,
    User,
    Writer,
    check_login_token,
    clear_cookie,
    new_login_token,
    optional_user,
    safe_next,
    set_cookie,
)
from innsync.admin.connections import SWITCHES, list_rows
from innsync.admin.dashboard import Dashboard, build_dashboard
from innsync.admin.rendering import page
from innsync.api.deps import Db, audited_authentication
from innsync.api.throttle import FailureBudget
from innsync.connections import audit
from innsync.connections.schemas import ConnectionUpdate
from innsync.connections.service import update_connection
from innsync.crypto import SecretBox
from innsync.errors import AuthenticationError, NotFoundError, TooManyRequestsError
from innsync.tenants.users import Passwords, SignedIn, sign_in, sign_out

router = APIRouter(prefix=ADMIN_PATH, include_in_schema=False)
# Longest e-mail accepted from the form (RFC 5321's path limit is 256).
MAX_EMAIL_FIELD = 320


def _field(form: Any, name: str, limit: int = 2048) -> str:
    value = form.get(name)
    return value[:limit] if isinstance(value, str) else ""


def _login_page(
    request: Request, status: int = 200, message: str = "", email: str = "", target: str = ""
) -> HTMLResponse:
    token = new_login_token()
    response = page(
        request,
        "login.html",
        {"csrf_token": token, "message": message, "email": email, "next": safe_next(target)},
        status=status,
    )
    set_cookie(request, response, LOGIN_CSRF_COOKIE, token, expires=None)
    return response


@router.get("/login")
async def login_form(
    request: Request,
    user: Annotated[SignedIn | None, Depends(optional_user)],
    next: str = ADMIN_PATH,
) -> Response:
    if user is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_page(request, target=next)


@router.post("/login", dependencies=[Depends(check_login_token)])
async def login(request: Request, db: Db) -> Response:
    form = await request.form()
    email = _field(form, "email", MAX_EMAIL_FIELD)
    password = _field(form, "password")
    target = safe_next(_field(form, "next"))
    settings = request.app.state.settings
    per_email: FailureBudget = request.app.state.login_failures
    account = email.strip().lower()
    lifetime = timedelta(hours=settings.admin_session_hours)
    passwords: Passwords = request.app.state.passwords
    try:
        # One address's budget (shared with API keys) and one account's, against guessing
        # from many addresses at one account.
        wait = per_email.retry_after(account)
        if wait is not None:
            raise TooManyRequestsError("too many failed sign-ins for this account", wait)
        with audited_authentication(request):
            try:
                opened = await db.write(lambda s: sign_in(s, passwords, email, password, lifetime))
            except AuthenticationError:
                per_email.record(account)
                raise
    except TooManyRequestsError as exc:
        response = _login_page(
            request,
            429,
            f"Too many failed sign-ins. Try again in {exc.retry_after} seconds.",
            email,
            target,
        )
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except AuthenticationError:
        return _login_page(request, 401, "Wrong e-mail or password.", email, target)
    signed = RedirectResponse(target, status_code=303)
    set_cookie(request, signed, SESSION_COOKIE, opened.token, expires=opened.expires_at)
    clear_cookie(request, signed, LOGIN_CSRF_COOKIE)
    return signed


@router.post("/logout")
async def logout(request: Request, db: Db, user: FormUser) -> Response:
    await db.write(lambda s: sign_out(s, user.session_id))
    response = RedirectResponse(f"{ADMIN_PATH}/login", status_code=303)
    clear_cookie(request, response, SESSION_COOKIE)
    return response


def _dashboard_context(
    request: Request, board: Dashboard, user: SignedIn, now: datetime
) -> dict[str, Any]:
    # htmx polls the live part this often (INNSYNC_ADMIN_REFRESH_SECONDS).
    refresh = f"{request.app.state.settings.admin_refresh_seconds:g}"
    return {"board": board, "user": user, "now": now, "refresh": refresh}


@router.get("")
async def dashboard(request: Request, db: Db, user: User) -> HTMLResponse:
    now = datetime.now(UTC)
    board = await db.read(lambda s: build_dashboard(s, user.tenant_id, now))
    context = _dashboard_context(request, board, user, now)
    return page(request, "dashboard.html", {**context, "active": "dashboard"})


@router.get("/dashboard/live")
async def dashboard_live(request: Request, db: Db, user: User) -> HTMLResponse:
    """The dashboard's figures alone, for htmx to swap in at each refresh."""
    now = datetime.now(UTC)
    board = await db.read(lambda s: build_dashboard(s, user.tenant_id, now))
    return page(request, "_dashboard_live.html", _dashboard_context(request, board, user, now))


async def _change(
    request: Request,
    db: Db,
    user: SignedIn,
    connection_id: uuid.UUID,
    change: ConnectionUpdate,
    back_to: str,
) -> Response:
    """Apply a change to one of the tenant's connections, then go back to the page."""
    box: SecretBox = request.app.state.secret_box
    try:
        await db.write(
            lambda s: update_connection(
                s, box, user.tenant_id, connection_id, change, audit.user_actor(user.user_id)
            )
        )
    except NotFoundError as exc:
        raise AdminRefusalError(404, "No such connection.") from exc
    return RedirectResponse(back_to, status_code=303)


@router.get("/connections")
async def connections_page(request: Request, db: Db, user: User) -> HTMLResponse:
    rows = await db.read(lambda s: list_rows(s, user.tenant_id))
    context = {"rows": rows, "user": user, "switches": SWITCHES, "active": "connections"}
    return page(request, "connections.html", context)


@router.post("/connections/{connection_id}/switch")
async def switch_connection(
    request: Request, db: Db, user: Writer, connection_id: uuid.UUID
) -> Response:
    """Turn one switch (push, pull, webhooks, shadow mode) on or off; audited under the user."""
    form = await request.form()
    name, on = _field(form, "switch"), _field(form, "on")
    if name not in SWITCHES or on not in ("true", "false"):
        raise AdminRefusalError(400, "Unknown switch.")
    change = ConnectionUpdate.model_validate({name: on == "true"})
    return await _change(request, db, user, connection_id, change, f"{ADMIN_PATH}/connections")


@router.post("/connections/{connection_id}/pause")
async def pause_connection(
    request: Request, db: Db, user: Writer, connection_id: uuid.UUID
) -> Response:
    """Stop pushing to and pulling from the channel (its backlog waits)."""
    change = ConnectionUpdate(push_enabled=False, pull_enabled=False)
    return await _change(request, db, user, connection_id, change, ADMIN_PATH)


@router.post("/connections/{connection_id}/resume")
async def resume_connection(
    request: Request, db: Db, user: Writer, connection_id: uuid.UUID
) -> Response:
    """Push and pull again; innsync re-sends everything (what the channel holds is unknown)."""
    change = ConnectionUpdate(push_enabled=True, pull_enabled=True)
    return await _change(request, db, user, connection_id, change, ADMIN_PATH)

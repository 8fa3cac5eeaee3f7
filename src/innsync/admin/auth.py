"""Who is signed in, CSRF tokens and roles: the dependencies every admin page uses.

The session cookie is HTTP-only, SameSite=Lax and (unless INNSYNC_ADMIN_COOKIE_SECURE is off
for plain-http development) Secure. Every form carries the session's synchronizer token; a POST
without it or with another one is refused (403) before anything is read or written. The sign-in
form has no session yet, so it uses a double-submit token: the same random value in a cookie
and in the form, which a page on another site can neither read nor set.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import Response

from innsync.api.deps import Db
from innsync.crypto import constant_time_equal
from innsync.tenants.users import SignedIn, signed_in

SESSION_COOKIE = "innsync_session"
LOGIN_CSRF_COOKIE = "innsync_login_csrf"
CSRF_FIELD = "csrf_token"
ADMIN_PATH = "/admin"


class AdminRefusalError(Exception):
    """A request the admin answers with an HTML page of this status and message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class SignInRequiredError(Exception):
    """No live session: the browser is sent to the sign-in page, then back to ``path``."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


def is_secure(request: Request) -> bool:
    secure: bool = request.app.state.settings.admin_cookie_secure
    return secure


def set_cookie(
    request: Request, response: Response, name: str, value: str, expires: datetime | None
) -> None:
    response.set_cookie(
        name,
        value,
        expires=expires,
        path=ADMIN_PATH,
        secure=is_secure(request),
        httponly=True,
        samesite="lax",
    )


def clear_cookie(request: Request, response: Response, name: str) -> None:
    response.delete_cookie(
        name, path=ADMIN_PATH, secure=is_secure(request), httponly=True, samesite="lax"
    )


async def optional_user(request: Request, db: Db) -> SignedIn | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token or len(token) > 128:
        return None
    return await db.read(lambda session: signed_in(session, token))


async def current_user(
    request: Request, user: Annotated[SignedIn | None, Depends(optional_user)]
) -> SignedIn:
    if user is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequiredError(target)
    return user


User = Annotated[SignedIn, Depends(current_user)]


async def form_token(request: Request) -> str:
    form = await request.form()
    token = form.get(CSRF_FIELD)
    return token if isinstance(token, str) else ""


async def checked_user(request: Request, user: User) -> SignedIn:
    """The user of a POST whose form carries this session's CSRF token."""
    if not constant_time_equal(await form_token(request), user.csrf_token):
        raise AdminRefusalError(403, "This form has expired or did not come from innsync.")
    return user


async def writing_user(user: Annotated[SignedIn, Depends(checked_user)]) -> SignedIn:
    """A user whose role may change things (not read-only), on a POST with a good token."""
    if not user.can_write:
        raise AdminRefusalError(403, "Your role is read-only: you can look but not change.")
    return user


FormUser = Annotated[SignedIn, Depends(checked_user)]
Writer = Annotated[SignedIn, Depends(writing_user)]


def new_login_token() -> str:
    return secrets.token_urlsafe(32)


async def check_login_token(request: Request) -> None:
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not constant_time_equal(await form_token(request), cookie):
        raise AdminRefusalError(403, "This form has expired or did not come from innsync.")


def safe_next(target: str | None) -> str:
    """Where to go after signing in: only a path inside the admin, never another site."""
    inside = target == ADMIN_PATH or (target or "").startswith((f"{ADMIN_PATH}/", f"{ADMIN_PATH}?"))
    if target and inside and "\\" not in target and all(ord(c) > 31 for c in target):
        return target
    return ADMIN_PATH


def login_path(target: str) -> str:
    return f"{ADMIN_PATH}/login?next={quote(target, safe='')}"

"""§2.2 OAuth 2.0: the owner's authorization page, the code exchange, refresh and API login.

The authorization page stands in for ``admin.octorate.com/octobook/identity/oauth.xhtml``: an
HTML form where the owner signs in and approves (or denies) the app; the browser is then sent to
``redirect_uri?code=…&state=…`` with ``state`` unchanged. A code is single use and must be
exchanged within ``code_lifetime_seconds`` (one minute, §2.2) by the app's client id and secret.
"""

from __future__ import annotations

import html
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from innsync.simulators.octorate.errors import OctorateError
from innsync.simulators.octorate.state import Grant, SimulatorState
from innsync.simulators.octorate.wire import expire_date, form

AUTHORIZE_PATH = "/octobook/identity/oauth.xhtml"
IDENTITY = "/connect/rest/v1/identity"
router = APIRouter()


def state_of(request: Request) -> SimulatorState:
    state: SimulatorState = request.app.state.simulator
    return state


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    text = (
        f"<!doctype html><html><head><title>{html.escape(title)}</title></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(text, status_code=status)


def _client_problem(state: SimulatorState, client_id: str, redirect_uri: str) -> str | None:
    """Why the page refuses to act for this app (shown to the owner, never redirected)."""
    if client_id != state.config.client_id:
        return "Unknown client_id"
    parts = urlsplit(redirect_uri)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return "redirect_uri must be an absolute http(s) URL"
    allowed = state.config.redirect_uris
    if allowed and redirect_uri not in allowed:
        return "redirect_uri is not the one configured for this application"
    return None


def _redirect(redirect_uri: str, params: dict[str, str]) -> RedirectResponse:
    joiner = "&" if urlsplit(redirect_uri).query else "?"
    return RedirectResponse(f"{redirect_uri}{joiner}{urlencode(params)}", status_code=302)


@router.get(AUTHORIZE_PATH, response_class=HTMLResponse)
async def authorize_page(
    request: Request,
    client_id: Annotated[str, Query()] = "",
    redirect_uri: Annotated[str, Query()] = "",
    state: Annotated[str | None, Query()] = None,
) -> HTMLResponse:
    """The owner's sign-in and approval form for the app."""
    problem = _client_problem(state_of(request), client_id, redirect_uri)
    if problem is not None:
        return _page("Authorization refused", f"<p>{html.escape(problem)}</p>", status=400)
    hidden = "".join(
        f'<input type="hidden" name="{name}" value="{html.escape(value)}">'
        for name, value in (
            ("client_id", client_id),
            ("redirect_uri", redirect_uri),
            ("state", state or ""),
        )
    )
    body = (
        f'<form method="post" action="{AUTHORIZE_PATH}">{hidden}'
        '<label>Username <input name="username"></label>'
        '<label>Password <input name="password" type="password"></label>'
        '<button name="decision" value="approve">Approve</button>'
        '<button name="decision" value="deny">Deny</button></form>'
    )
    return _page("Connect your property", body)


@router.post(AUTHORIZE_PATH, response_model=None)
async def authorize_decision(request: Request) -> Response:
    """Approve: a code to the redirect URI; deny: ``error=access_denied``; ``state`` as given.

    The form is read by hand (``form``): the app has no multipart dependency.
    """
    fields = await form(request)
    client_id, redirect_uri = fields.get("client_id", ""), fields.get("redirect_uri", "")
    state, decision = fields.get("state", ""), fields.get("decision", "")
    username, password = fields.get("username", ""), fields.get("password", "")
    sim = state_of(request)
    problem = _client_problem(sim, client_id, redirect_uri)
    if problem is not None:
        return _page("Authorization refused", f"<p>{html.escape(problem)}</p>", status=400)
    echoed = {"state": state} if state else {}
    if decision == "deny":
        return _redirect(redirect_uri, {"error": "access_denied", **echoed})
    owner = sim.config.owner(username)
    if decision != "approve" or owner is None or owner.password != password:
        return _page("Sign-in failed", "<p>Wrong username or password.</p>", status=401)
    code = sim.new_secret("code_", 32)
    sim.grants[code] = Grant(client_id, redirect_uri, owner.accommodation_ids, sim.now())
    sim.connected.update(owner.accommodation_ids)
    return _redirect(redirect_uri, {"code": code, **echoed})


def _check_client(state: SimulatorState, fields: dict[str, str]) -> None:
    client_id, secret = fields.get("client_id"), fields.get("client_secret")
    if not client_id or not secret:
        raise OctorateError(401, "ApiKeyMissing", "client_id and client_secret are required")
    if client_id != state.config.client_id or secret != state.config.client_secret:
        raise OctorateError(401, "ApiKeyInvalid", "client_id or client_secret is not valid")


def _refreshed(state: SimulatorState, fields: dict[str, str]) -> dict[str, Any]:
    refresh = fields.get("refresh_token")
    if not refresh:
        raise OctorateError(400, "ApiParamsExemption", "refresh_token is required")
    accommodations = state.refresh_tokens.get(refresh)
    if accommodations is None:
        raise OctorateError(401, "ApiKeyInvalid", "refresh_token is not valid")
    token, expires = state.issue_access_token(accommodations)
    return {"access_token": token, "expireDate": expire_date(expires)}


@router.post(f"{IDENTITY}/token")
async def token(request: Request) -> dict[str, Any]:
    """Exchange a code (grant ``code``/``authorization_code``) or a refresh token."""
    state = state_of(request)
    fields = await form(request)
    _check_client(state, fields)
    grant_type = fields.get("grant_type", "")
    if grant_type == "refresh_token":
        return _refreshed(state, fields)
    if grant_type not in state.config.code_grant_types:
        raise OctorateError(400, "ApiParamsExemption", f"grant_type {grant_type!r} not supported")
    code = fields.get("code", "")
    grant = state.grants.get(code)
    if grant is None or grant.is_used:
        raise OctorateError(400, "ApiValidationFailed", "code is not valid or already used")
    age = (state.now() - grant.issued_at).total_seconds()
    if age > state.config.code_lifetime_seconds:
        raise OctorateError(400, "ApiValidationFailed", "code expired")
    if grant.client_id != fields["client_id"] or fields.get("redirect_uri") != grant.redirect_uri:
        raise OctorateError(400, "ApiValidationFailed", "redirect_uri does not match the code's")
    grant.is_used = True
    refresh = state.new_secret("rt_")
    state.refresh_tokens[refresh] = grant.accommodation_ids
    access, expires = state.issue_access_token(grant.accommodation_ids)
    return {"access_token": access, "refresh_token": refresh, "expireDate": expire_date(expires)}


@router.post(f"{IDENTITY}/refresh")
async def refresh(request: Request) -> dict[str, Any]:
    """§2.2: a refresh token (which never expires) becomes a new access token."""
    state = state_of(request)
    fields = await form(request)
    _check_client(state, fields)
    return _refreshed(state, fields)


@router.post(f"{IDENTITY}/apilogin")
async def api_login(request: Request) -> dict[str, Any]:
    """§2.2: the app's own login, no owner consent: it sees every connected accommodation."""
    state = state_of(request)
    fields = await form(request)
    _check_client(state, fields)
    access, expires = state.issue_access_token(tuple(sorted(state.connected)))
    return {"access_token": access, "expireDate": expire_date(expires)}

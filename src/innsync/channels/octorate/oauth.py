"""§2.2 Octorate's OAuth 2.0 authorization code flow, as the marketplace's app runs it.

The owner approves the app on Octorate's page (:func:`authorize_url`), which sends the browser
back to innsync with a ``code``; innsync exchanges it within one minute (:func:`exchange_code`)
for an access token with an **absolute** ``expireDate`` and a refresh token that never expires;
:func:`refresh` turns the refresh token into the next access token.

The RFC 6749 parts are Authlib's (a maintained OAuth library): the authorization URL
(``prepare_grant_uri``), the form bodies of the code and refresh grants
(``prepare_token_request``) and the reading of the callback's ``code`` (``parse_authorization_
code_response``). Octorate departs from the RFC where Authlib's HTTP clients would have to be
bent: the documented code grant is ``grant_type=code`` (not ``authorization_code``; configurable
here as :data:`CODE_GRANT`), the token answer carries ``expireDate`` instead of ``expires_in``,
and refresh has its own endpoint. So the bodies Authlib prepares are posted through the channel
kit's HTTP (error translation, secrets never logged), and the answer is read here; the ``state``
that protects the redirect is innsync's own (``connections.oauth``, made by Authlib's
``generate_token``).
"""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from authlib.oauth2.rfc6749.errors import MissingCodeException
from authlib.oauth2.rfc6749.parameters import (
    parse_authorization_code_response,
    prepare_grant_uri,
    prepare_token_request,
)
from pydantic import BaseModel, ConfigDict, Field

from innsync.channels.credentials import Credential
from innsync.channels.errors import ChannelAuthError, ChannelRejectedError, ChannelUnavailableError
from innsync.channels.http import ChannelHttp, WallClock, json_body, parse_answer
from innsync.channels.octorate.config import OctorateApp

CHANNEL = "Octorate"
IDENTITY_PATH = "/rest/v1/identity"
FORM = "application/x-www-form-urlencoded"
# The documented code grant (§2.2); the simulator also takes the RFC's authorization_code.
CODE_GRANT = "code"
SECRET_FIELDS = frozenset({"client_secret", "code", "refresh_token", "access_token"})


class TokenAnswer(BaseModel):
    """§2.2: ``{access_token, refresh_token?, expireDate}``."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    access_token: str = Field(min_length=1)
    refresh_token: str | None = None
    expire_date: str = Field(alias="expireDate", min_length=10)


def authorize_url(app: OctorateApp, redirect_uri: str, state: str) -> str:
    """Where the hotel's browser goes to approve the app (§2.2 step 1)."""
    return str(
        prepare_grant_uri(
            app.authorize_url, app.client_id, "code", redirect_uri=redirect_uri, state=state
        )
    )


def code_of(callback_url: str) -> str | None:
    """The ``code`` Octorate's redirect carries, or ``None`` (the hotel denied the app). The
    ``state`` is checked before, against innsync's table (``connections.oauth.claim``)."""
    try:
        params = parse_authorization_code_response(callback_url)
    except MissingCodeException:
        return None
    code = params.get("code")
    return str(code) if code else None


def parse_expire_date(text: str) -> datetime:
    """``2025-03-01T10:00:00.000Z`` (also the zoned ``…Z[UTC]``) as an aware UTC datetime."""
    cleaned = text.removesuffix("[UTC]").replace("Z", "+00:00")
    try:
        moment = datetime.fromisoformat(cleaned)
    except ValueError:
        raise ChannelUnavailableError(f"{CHANNEL} sent an unreadable expireDate") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def identity_http(http: httpx.AsyncClient, app: OctorateApp, now: WallClock) -> ChannelHttp:
    """The kit's HTTP for the identity endpoints (no bearer: the app authenticates itself)."""
    return ChannelHttp(
        http=http,
        channel=CHANNEL,
        base_url=app.api_root.rstrip("/") + IDENTITY_PATH,
        timeout=httpx.Timeout(30.0, connect=10.0),
        describe=describe,
        now=now,
        secret_names=SECRET_FIELDS,
    )


async def exchange_code(
    http: httpx.AsyncClient, app: OctorateApp, code: str, redirect_uri: str, now: WallClock
) -> Credential:
    """§2.2 step 2: the code (single use, one minute) for an access and a refresh token."""
    body = prepare_token_request(
        CODE_GRANT,
        redirect_uri=redirect_uri,
        client_id=app.client_id,
        client_secret=app.client_secret.get_secret_value(),
        code=code,
    )
    answer = await _token_call(identity_http(http, app, now), "/token", str(body), "the code")
    if answer.refresh_token is None:
        raise ChannelUnavailableError(f"{CHANNEL} answered the code without a refresh token")
    return _credential(answer, answer.refresh_token)


async def refresh(
    http: httpx.AsyncClient, app: OctorateApp, refresh_token: str, now: WallClock
) -> Credential:
    """§2.2 step 3: the next access token; the refresh token (which never expires) is kept."""
    body = prepare_token_request(
        "refresh_token",
        client_id=app.client_id,
        client_secret=app.client_secret.get_secret_value(),
        refresh_token=refresh_token,
    )
    answer = await _token_call(
        identity_http(http, app, now), "/refresh", str(body), "the refresh token"
    )
    return _credential(answer, answer.refresh_token or refresh_token)


async def _token_call(identity: ChannelHttp, path: str, body: str, what: str) -> TokenAnswer:
    """Post a form body Authlib prepared; the kit translates errors and masks the secrets."""
    try:
        response = await identity.send(
            "POST", path, content=body.encode(), content_type=FORM, authenticated=False
        )
    except ChannelAuthError as exc:
        raise ChannelAuthError(
            f"{CHANNEL} refused {what}; the hotel must connect the app again ({exc})"
        ) from exc
    except ChannelRejectedError as exc:
        raise ChannelRejectedError(f"{CHANNEL} refused {what} ({exc})") from exc
    assert response is not None  # missing_ok is not set
    payload = json_body(response, CHANNEL, f"POST {path}")
    return parse_answer(TokenAnswer, payload, CHANNEL, f"POST {path}")


def _credential(answer: TokenAnswer, refresh_token: str) -> Credential:
    return Credential(
        token=answer.access_token,
        expires_at=parse_expire_date(answer.expire_date),
        refresh_token=refresh_token,
    )


def describe(response: httpx.Response) -> str:
    """The OpenAPI glossary's error body, ``{"type", "message", "status"}`` [3P]."""
    try:
        payload = response.json()
    except (ValueError, RecursionError):
        return response.reason_phrase or ""
    if isinstance(payload, dict):
        kind, message = payload.get("type"), payload.get("message")
        parts = [str(part) for part in (kind, message) if isinstance(part, str) and part]
        if parts:
            return ": ".join(parts)[:200]
    return response.reason_phrase or ""

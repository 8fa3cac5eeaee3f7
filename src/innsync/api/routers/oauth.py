"""The OAuth connect step of a hotel's connection (Octorate, issue #16).

``GET /api/v1/connections/{id}/oauth/start`` (API key, write scope) answers a redirect to the
channel's authorization page carrying a new single-use ``state``; the hotel approves innsync's
app there and its browser comes back to ``GET /oauth/octorate/callback`` with ``code`` and
``state``. The callback has no API key: the state (see ``connections.oauth``) is its credential.
It exchanges the code at once (Octorate gives one minute), keeps the tokens encrypted with the
connection's other channel credentials, and answers the accommodations the hotel may pick.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel

from innsync.api.channel_calls import ChannelHttp, calling_channel
from innsync.api.deps import Box, Db, Writer
from innsync.channels.errors import ChannelError
from innsync.channels.octorate import OctorateAdapter, app_of
from innsync.channels.octorate import oauth as octorate_oauth
from innsync.clock import utc_now
from innsync.connections import oauth
from innsync.connections.credentials import DatabaseCredentialStore
from innsync.connections.models import Connection
from innsync.connections.service import build_adapter
from innsync.errors import ConflictError, DomainError
from innsync.settings import Settings

router = APIRouter(tags=["connections"])
callback_router = APIRouter(tags=["connections"])
CALLBACK_PATH = "/oauth/octorate/callback"


class OAuthFailedError(DomainError):
    """The hotel denied the app, or Octorate refused the code."""

    status = 400
    title = "OAuth connect failed"


class AccommodationRead(BaseModel):
    id: str
    name: str


class OAuthConnected(BaseModel):
    """The connect step is done; the hotel picks its accommodation next (unless it has)."""

    connection_id: uuid.UUID
    accommodation_id: int | None
    accommodations: list[AccommodationRead]


def redirect_uri(request: Request) -> str:
    """The callback URL, as registered with the channel: on ``public_url`` when set."""
    settings: Settings = request.app.state.settings
    base = settings.public_url or str(request.base_url)
    return base.rstrip("/") + CALLBACK_PATH


@router.get(
    "/connections/{connection_id}/oauth/start",
    status_code=307,
    response_class=RedirectResponse,
    responses={
        307: {"description": "To the channel's authorization page, with a single-use state"},
        409: {
            "description": "The connection's channel does not connect by OAuth, or the "
            "operator has not set the app's client id"
        },
    },
)
async def start_oauth(
    connection_id: uuid.UUID, request: Request, db: Db, who: Writer
) -> RedirectResponse:
    """Start the hotel's approval of innsync's app: send its browser to this URL."""
    target = await authorization_url(request, db, who.tenant_id, connection_id)
    return RedirectResponse(target, status_code=307, headers={"cache-control": "no-store"})


async def authorization_url(
    request: Request, db: Db, tenant_id: uuid.UUID, connection_id: uuid.UUID
) -> str:
    """The channel's approval page for the tenant's connection, with a new single-use state
    (the API's start and the admin's "Connect" button both send the browser there)."""
    settings: Settings = request.app.state.settings
    lifetime = timedelta(seconds=settings.octorate_oauth_state_seconds)
    configured = bool(settings.octorate_client_id)
    _, state = await db.write(
        lambda s: oauth.start(
            s, tenant_id, connection_id, utc_now(), lifetime, is_configured=configured
        )
    )
    return octorate_oauth.authorize_url(app_of(settings), redirect_uri(request), state)


@callback_router.get(
    CALLBACK_PATH,
    responses={
        400: {"description": "Unknown, used or expired state; denied; or the code refused"},
    },
)
async def octorate_callback(
    request: Request,
    db: Db,
    box: Box,
    http: ChannelHttp,
    state: Annotated[str, Query(max_length=200)] = "",
    code: Annotated[str | None, Query(max_length=500)] = None,
    error: Annotated[str | None, Query(max_length=200)] = None,
) -> OAuthConnected:
    """Where Octorate sends the hotel back: the state authenticates the call."""
    if not state:
        raise oauth.OAuthStateError("the callback carries no state")
    connection = await db.write(lambda s: oauth.claim(s, state, utc_now()))
    # Authlib reads the redirect as RFC 6749 §4.1.2 has it; ``code`` above only bounds and
    # documents the query.
    granted = octorate_oauth.code_of(str(request.url)) if code else None
    if error is not None or granted is None:
        raise OAuthFailedError(f"the hotel did not approve the app ({error or 'no code'})")
    settings: Settings = request.app.state.settings
    try:
        credential = await octorate_oauth.exchange_code(
            http, app_of(settings), granted, redirect_uri(request), utc_now
        )
    except ChannelError as exc:
        raise OAuthFailedError(f"Octorate refused the code: {exc}") from exc
    store = DatabaseCredentialStore(db.sessions, box, connection.id)
    await store.persist("access", credential)
    adapter = await db.read(
        lambda s: build_adapter(s.get_one(Connection, connection.id), box, http, db.sessions)
    )
    if not isinstance(adapter, OctorateAdapter):
        raise ConflictError(f"a {connection.channel} connection is not authorized by OAuth")
    seen = await calling_channel(adapter.list_accommodations())
    return OAuthConnected(
        connection_id=connection.id,
        accommodation_id=adapter.config.accommodation_id,
        accommodations=[AccommodationRead(**item) for item in seen],
    )

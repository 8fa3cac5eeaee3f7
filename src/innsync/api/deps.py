"""Request dependencies: a session per request, the calling principal and its scopes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker

from innsync.crypto import SecretBox
from innsync.errors import AuthenticationError, PermissionDeniedError
from innsync.tenants.service import Principal, authenticate

_bearer = HTTPBearer(auto_error=False, description="An innsync API key: `Bearer isk_...`")


def get_session(request: Request) -> Iterator[Session]:
    """One session per request. Write endpoints commit explicitly before answering, so a
    client never sees success for a change that did not commit; anything else rolls back."""
    sessions: sessionmaker[Session] = request.app.state.sessions
    with sessions() as session:
        yield session


DbSession = Annotated[Session, Depends(get_session)]


def get_box(request: Request) -> SecretBox:
    box: SecretBox = request.app.state.secret_box
    return box


def get_principal(
    session: DbSession,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise AuthenticationError("send your API key as 'Authorization: Bearer <key>'")
    return authenticate(session, credentials.credentials)


def require(scope: str) -> Callable[[Principal], Principal]:
    def _check(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
        if not principal.can(scope):
            raise PermissionDeniedError(f"this API key lacks the '{scope}' scope")
        return principal

    return _check


Reader = Annotated[Principal, Depends(require("read"))]
Writer = Annotated[Principal, Depends(require("write"))]
Admin = Annotated[Principal, Depends(require("admin"))]
Box = Annotated[SecretBox, Depends(get_box)]

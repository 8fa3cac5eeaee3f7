"""Request dependencies: database work in one pool thread per step, the caller and its scopes.

Every step of database work opens a session, does its work, builds its answer and ends the
transaction inside one call to the thread pool. No session or lock outlives that call: a
session that held SQLite's write lock while waiting for a pool thread (to validate a response,
say) deadlocked against threads waiting for that lock once the pool was full.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from innsync.api.throttle import FailureBudget, client_address
from innsync.connections.guard import ConnectionRules
from innsync.crypto import SecretBox
from innsync.db.engine import READ_ONLY
from innsync.errors import (
    AuthenticationError,
    DomainError,
    PermissionDeniedError,
    TooManyRequestsError,
)
from innsync.logging import bind_log_context
from innsync.outbound import OutboundPolicy
from innsync.tenants.service import Principal, authenticate

T = TypeVar("T")
_bearer = HTTPBearer(auto_error=False, description="An innsync API key: `Bearer isk_...`")
# One line per failed authentication, for the operator's audit trail; never the key presented.
audit = logging.getLogger("innsync.audit")


class Database:
    """Runs units of work: ``read`` rolls back at the end, ``write`` commits before answering."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    @property
    def sessions(self) -> sessionmaker[Session]:
        """For what keeps its own short transactions (a stored connection's channel tokens)."""
        return self._sessions

    async def read(self, work: Callable[[Session], T]) -> T:
        return await run_in_threadpool(self._run, work, False)

    async def write(self, work: Callable[[Session], T]) -> T:
        """The answer is built before the commit, so success is only reported once committed."""
        return await run_in_threadpool(self._run, work, True)

    def _run(self, work: Callable[[Session], T], commit: bool) -> T:
        with self._sessions() as session:
            if not commit:
                session.connection(execution_options={READ_ONLY: True})
            result = work(session)
            if commit:
                session.commit()
            return result


def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


Db = Annotated[Database, Depends(get_database)]


def get_box(request: Request) -> SecretBox:
    box: SecretBox = request.app.state.secret_box
    return box


@contextmanager
def audited_authentication(
    request: Request, failures_are: tuple[type[DomainError], ...] = (AuthenticationError,)
) -> Iterator[None]:
    """Guards a credential check: an address over its failure budget is refused (429) before
    the check; a failure raised inside is counted and logged (one audit line, never the
    credential presented) and raised on."""
    failures: FailureBudget = request.app.state.auth_failures
    address = client_address(request)
    wait = failures.retry_after(address)
    if wait is not None:
        raise TooManyRequestsError(
            "too many failed authentications from this address; try again later", wait
        )
    try:
        yield
    except failures_are as exc:
        failures.record(address)
        audit.warning(
            "authentication failed",
            extra={
                "client": address,
                "method": request.method,
                "path": request.url.path,
                "reason": exc.detail,
            },
        )
        raise


async def get_principal(
    request: Request,
    db: Db,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller; an address with too many recent failures is refused before a lookup."""
    with audited_authentication(request):
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise AuthenticationError("send your API key as 'Authorization: Bearer <key>'")
        presented = credentials.credentials
        principal = await db.read(lambda session: authenticate(session, presented))
    # Every later line of this request says whose it is (the request's task only).
    bind_log_context(tenant_id=principal.tenant_id)
    return principal


def require(scope: str) -> Callable[[Principal], Coroutine[Any, Any, Principal]]:
    async def _check(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
        if not principal.can(scope):
            raise PermissionDeniedError(f"this API key lacks the '{scope}' scope")
        return principal

    return _check


Reader = Annotated[Principal, Depends(require("read"))]
Writer = Annotated[Principal, Depends(require("write"))]
Admin = Annotated[Principal, Depends(require("admin"))]
Box = Annotated[SecretBox, Depends(get_box)]


def get_outbound(request: Request) -> OutboundPolicy:
    policy: OutboundPolicy = request.app.state.outbound
    return policy


def get_connection_rules(request: Request) -> ConnectionRules:
    return ConnectionRules.from_settings(request.app.state.settings, get_outbound(request))


Outbound = Annotated[OutboundPolicy, Depends(get_outbound)]
Rules = Annotated[ConnectionRules, Depends(get_connection_rules)]

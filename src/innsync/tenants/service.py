"""Use-cases for tenants and API keys: create, list, find, issue, authenticate, revoke."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from innsync.crypto import constant_time_equal, hash_api_key
from innsync.errors import AuthenticationError, InvalidInputError, NotFoundError
from innsync.tenants.models import ApiKey, Tenant

SCOPES = ("read", "write", "admin")
KEY_PREFIX = "isk"  # innsync secret key; makes leaked keys easy to recognise and scrub


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A newly created key: ``secret`` is shown this once and never stored."""

    key: ApiKey
    secret: str


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the tenant every query is scoped to, and what the key may do."""

    tenant_id: uuid.UUID
    key_id: uuid.UUID
    scopes: frozenset[str]

    def can(self, scope: str) -> bool:
        # admin implies write implies read.
        rank = {name: index for index, name in enumerate(SCOPES)}
        return any(rank[held] >= rank[scope] for held in self.scopes if held in rank)


def create_tenant(session: Session, name: str) -> tuple[Tenant, IssuedKey]:
    """A tenant with its first admin key."""
    if not name.strip():
        raise InvalidInputError("a tenant needs a name")
    tenant = Tenant(name=name.strip())
    session.add(tenant)
    session.flush()
    return tenant, issue_key(session, tenant.id, name="initial admin key", scopes=["admin"])


@dataclass(frozen=True, slots=True)
class TenantSummary:
    """A tenant as an operator lists it."""

    id: uuid.UUID
    name: str
    created_at: datetime
    active_keys: int


def list_tenants(session: Session) -> list[TenantSummary]:
    """Every tenant, oldest first, with how many of its keys are not revoked."""
    active = (
        select(ApiKey.tenant_id, func.count().label("active"))
        .where(ApiKey.revoked_at.is_(None))
        .group_by(ApiKey.tenant_id)
        .subquery()
    )
    rows = session.execute(
        select(Tenant, func.coalesce(active.c.active, 0))
        .outerjoin(active, active.c.tenant_id == Tenant.id)
        .order_by(Tenant.created_at, Tenant.name, Tenant.id)
    )
    return [
        TenantSummary(tenant.id, tenant.name, tenant.created_at, int(count))
        for tenant, count in rows
    ]


def find_tenant(session: Session, reference: str) -> Tenant:
    """A tenant by its id, or by its exact name when that names only one."""
    try:
        tenant = session.get(Tenant, uuid.UUID(reference))
    except ValueError:
        tenant = None
    if tenant is not None:
        return tenant
    named = list(session.scalars(select(Tenant).where(Tenant.name == reference.strip()).limit(2)))
    if len(named) > 1:
        raise InvalidInputError(f"several tenants are named {reference!r}: give the tenant's id")
    if not named:
        raise NotFoundError(f"no tenant with id or name {reference!r}")
    return named[0]


def issue_key(
    session: Session,
    tenant_id: uuid.UUID,
    name: str,
    scopes: list[str],
    expires_at: datetime | None = None,
    now: datetime | None = None,
) -> IssuedKey:
    """A new key; with ``expires_at`` it is refused from that moment on."""
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise InvalidInputError(f"scopes must be some of {', '.join(SCOPES)}; got {scopes}")
    if expires_at is not None:
        if expires_at.tzinfo is None:
            raise InvalidInputError("expires_at needs a time zone (e.g. 2027-01-01T00:00:00Z)")
        if expires_at <= (now or datetime.now(UTC)):
            raise InvalidInputError("expires_at must be in the future")
    prefix = secrets.token_hex(6)
    secret = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey(
        tenant_id=tenant_id,
        name=name,
        prefix=prefix,
        key_hash=hash_api_key(secret),
        scopes=sorted(set(scopes)),
        expires_at=expires_at,
    )
    session.add(key)
    session.flush()
    return IssuedKey(key=key, secret=secret)


def authenticate(session: Session, presented: str, now: datetime | None = None) -> Principal:
    """The principal for a presented key; one generic message whatever was wrong, except that
    the holder of a genuine but expired key is told it expired (they proved they hold it)."""
    failure = AuthenticationError("invalid or revoked API key")
    parts = presented.split("_")
    if len(parts) < 3 or parts[0] != KEY_PREFIX or "\x00" in presented:
        raise failure
    key = session.scalar(select(ApiKey).where(ApiKey.prefix == parts[1]))
    if key is None or key.revoked_at is not None:
        raise failure
    if not constant_time_equal(key.key_hash, hash_api_key(presented)):
        raise failure
    if key.expires_at is not None and key.expires_at <= (now or datetime.now(UTC)):
        raise AuthenticationError(
            f"this API key expired at {key.expires_at.isoformat()}; ask an admin for a new one"
        )
    return Principal(tenant_id=key.tenant_id, key_id=key.id, scopes=frozenset(key.scopes))


def revoke_key(session: Session, tenant_id: uuid.UUID, key_id: uuid.UUID) -> None:
    key = session.scalar(select(ApiKey).where(ApiKey.id == key_id, ApiKey.tenant_id == tenant_id))
    if key is None:
        raise NotFoundError(f"api key {key_id} not found")
    if key.revoked_at is None:
        key.revoked_at = datetime.now(UTC)


def list_keys(session: Session, tenant_id: uuid.UUID) -> list[ApiKey]:
    return list(
        session.scalars(
            select(ApiKey).where(ApiKey.tenant_id == tenant_id).order_by(ApiKey.created_at)
        )
    )

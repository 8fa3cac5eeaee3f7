"""Tables: tenants, their API keys, their users and the users' sign-in sessions."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from innsync.db.base import Base, Timestamps, UtcDateTime, UuidPk


class Tenant(UuidPk, Timestamps, Base):
    """An organization: every other row belongs to exactly one tenant."""

    __tablename__ = "tenants"

    name: Mapped[str] = mapped_column(String(200))


class ApiKey(UuidPk, Timestamps, Base):
    """A bearer key: shown once at creation, stored only as a hash."""

    __tablename__ = "api_keys"

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    # The public prefix finds the row without scanning; the hash proves the rest.
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    # Optional: the key is refused from this moment on (None: it never expires).
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)


class User(UuidPk, Timestamps, Base):
    """A person who signs in to the admin pages; machines use API keys instead.

    The e-mail is unique across all tenants, not per tenant: the sign-in form asks only for an
    e-mail and a password, so the address alone must name the account (and its tenant).
    """

    __tablename__ = "users"

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), index=True)
    # Stored lower-cased and trimmed, so "Ana@Hotel.example" and "ana@hotel.example" are one.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))  # "owner" | "manager" | "read_only"
    disabled_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    last_login_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)


class UserSession(UuidPk, Base):
    """A signed-in browser: the cookie holds a random token, this row only its hash."""

    __tablename__ = "user_sessions"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The synchronizer token every form of this session carries (CSRF).
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)

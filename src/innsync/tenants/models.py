"""Tables: tenants and their API keys."""

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

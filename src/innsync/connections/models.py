"""Tables: connections, their room-type and rate-plan mappings, and operator-held accounts."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from innsync.db.base import Base, BigIntId, Timestamps, UtcDateTime, UuidPk, utcnow


class ConnectionState(StrEnum):
    """Where a connection stands; stored as these strings (``connections.state``)."""

    PENDING = "pending"
    CONNECTED = "connected"
    NEEDS_ATTENTION = "needs_attention"
    DISABLED = "disabled"


CONNECTION_STATES = tuple(ConnectionState)
# States in which the outbound worker pushes a connection's changes.
SYNCABLE_STATES = (ConnectionState.PENDING, ConnectionState.CONNECTED)


class ChannelAccount(UuidPk, Timestamps, Base):
    """A channel account the operator holds (a Channex master account, a machine account).

    Its config holds the account's part of a connection config (keys, API root), encrypted;
    tenants' connections refer to it and never see it. It belongs to no tenant: a tenant may
    use it only when granted (:class:`ChannelAccountGrant`).
    """

    __tablename__ = "channel_accounts"

    channel: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200), unique=True)
    config_encrypted: Mapped[str] = mapped_column(Text)
    rotated_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)


class ChannelAccountGrant(Base):
    """A tenant allowed to connect its properties through an operator's channel account."""

    __tablename__ = "channel_account_grants"

    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("channel_accounts.id"), primary_key=True
    )
    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class Connection(UuidPk, Timestamps, Base):
    """A property's link to one channel; its config (credentials included) is encrypted at rest."""

    __tablename__ = "connections"

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), index=True)
    property_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("properties.id"), index=True)
    channel: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    config_encrypted: Mapped[str] = mapped_column(Text)
    push_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Direct bookings pushed to the channel (outbox.bookings); on by default for channels
    # whose adapter takes bookings (PushesReservations), and only with push_enabled.
    push_bookings: Mapped[bool] = mapped_column(Boolean, default=False)
    pull_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Read-only rollout: the worker plans what it would send and logs it (sync log rows with
    # outcome "shadow") without calling the channel or recording anything as acknowledged.
    shadow_mode: Mapped[bool] = mapped_column(Boolean, default=False)
    webhook_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    state: Mapped[str] = mapped_column(String(24), default=ConnectionState.PENDING)
    state_reason: Mapped[str] = mapped_column(Text, default="")
    # The unguessable path segment of this connection's webhook route.
    webhook_token: Mapped[str] = mapped_column(String(64), unique=True)
    # Connections that share a channel rate-limit window share a bucket (and its one worker).
    bucket_key: Mapped[str] = mapped_column(String(200), index=True)
    # The operator's account whose config is merged under this connection's own (null: the
    # connection holds its own credentials).
    account_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("channel_accounts.id"), index=True, default=None
    )
    # Loaded with the connection (a second SELECT, so FOR UPDATE on connections still works):
    # adapters are built from connections long after their session ended.
    account: Mapped[ChannelAccount | None] = relationship(lazy="selectin")
    last_full_sync_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    breaker_open_until: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    # Digest of the catalog (property, room types, rate plans) last sent by provisioning; null
    # until the first provisioning. The catalog pass re-provisions while it differs.
    catalog_digest: Mapped[str | None] = mapped_column(String(64), default=None)
    # Lease of the process re-provisioning it, so two processes never provision it at once.
    catalog_lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)

    def log_ids(self) -> dict[str, uuid.UUID]:
        """The ids that name this connection's work in the logs (``logging.log_context``)."""
        return {
            "tenant_id": self.tenant_id,
            "property_id": self.property_id,
            "connection_id": self.id,
        }


# Where a connection on a channel account is read account-wide (``inbox.account_feeds``) and
# where that read's failures concern it (``alerts.rules``): pull-enabled and not switched off.
ACCOUNT_FEED_MEMBER = (
    Connection.pull_enabled.is_(True),
    Connection.state != ConnectionState.DISABLED,
)


class RoomTypeMapping(UuidPk, Base):
    """Which channel room code stands for an innsync room type on this connection."""

    __tablename__ = "room_type_mappings"
    __table_args__ = (
        UniqueConstraint("connection_id", "room_type_id"),
        UniqueConstraint("connection_id", "channel_code"),
    )

    connection_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("connections.id"), index=True)
    room_type_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("room_types.id"), index=True)
    channel_code: Mapped[str] = mapped_column(String(128))


class RatePlanMapping(UuidPk, Base):
    """Which channel rate code stands for an innsync rate plan on this connection."""

    __tablename__ = "rate_plan_mappings"
    __table_args__ = (
        UniqueConstraint("connection_id", "rate_plan_id"),
        UniqueConstraint("connection_id", "channel_code"),
    )

    connection_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("connections.id"), index=True)
    rate_plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rate_plans.id"), index=True)
    channel_code: Mapped[str] = mapped_column(String(128))


class ConnectionOta(UuidPk, Timestamps, Base):
    """One OTA behind a channel-manager connection (e.g. Booking.com behind Channex): its
    state as last reported, since when, and the last problem it had."""

    __tablename__ = "connection_otas"
    __table_args__ = (UniqueConstraint("connection_id", "channel_code"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), index=True)
    connection_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("connections.id"), index=True)
    channel_code: Mapped[str] = mapped_column(String(128))
    ota: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(24))
    state_since: Mapped[datetime] = mapped_column(UtcDateTime())
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    last_error_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    # What last told innsync: a webhook event's name, or "channel_list" for the reconciler.
    last_source: Mapped[str] = mapped_column(String(32))


class ProvisionedEntity(UuidPk, Timestamps, Base):
    """A room type or rate plan that provisioning created on the channel for a connection.

    Kept so that deleting the connection with ``remove_remote`` removes only what innsync
    made, never an entity the hotelier had made and provisioning matched by title.
    """

    __tablename__ = "connection_provisioned"
    __table_args__ = (UniqueConstraint("connection_id", "kind", "remote_id"),)

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), index=True)
    connection_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("connections.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # "room_type" | "rate_plan"
    remote_id: Mapped[str] = mapped_column(String(128))


class ConnectionAudit(Base):
    """One operator action on a connection: a switch changed (old -> new), inbox items
    requeued, a booking pulled; who did it and when. Append-only."""

    __tablename__ = "connection_audit"
    __table_args__ = (Index("ix_connection_audit_connection_id", "connection_id", "id"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), index=True)
    connection_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("connections.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    # "key:<api key id>" for the API, "cli" for the operator's command line.
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

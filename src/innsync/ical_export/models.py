"""Table: one iCal export per connection, with its precomputed body."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, String
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import Mapped, mapped_column

from innsync.db.base import Base, UtcDateTime

EXPORT_BODY = LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb")


class IcalExport(Base):
    """A listing's calendar as platforms read it at ``/ical/{token}.ics``.

    The body is kept, so a poll costs one lookup by token. Every dirty mark of the property
    bumps ``dirty_version`` in the mark's transaction (``outbox.marks``); a poll that finds it
    ahead of ``built_version`` (or the day rolled over, ``rebuild_after``) rebuilds the body
    first. Counting versions rather than clearing a flag keeps a mark that lands while a body
    is being built: the next poll builds again.
    """

    __tablename__ = "ical_exports"

    connection_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("connections.id", ondelete="CASCADE"), primary_key=True
    )
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), index=True)
    property_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("properties.id"), index=True)
    # Set: the export is one unit's calendar (a rental sold unit by unit); None: the room type's.
    unit_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("units.id", ondelete="CASCADE"), default=None, index=True
    )
    # Unguessable (256 bits); rotating it replaces it, revoking deletes the row.
    token: Mapped[str] = mapped_column(String(64), unique=True)
    horizon_days: Mapped[int] = mapped_column(Integer, default=365)
    dirty_version: Mapped[int] = mapped_column(Integer, default=1)
    built_version: Mapped[int] = mapped_column(Integer, default=0)
    body: Mapped[bytes | None] = mapped_column(EXPORT_BODY, default=None)
    etag: Mapped[str | None] = mapped_column(String(64), default=None)
    last_modified: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    # The next midnight of the property (UTC): the horizon moves by a day then.
    rebuild_after: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    events: Mapped[int] = mapped_column(Integer, default=0)

"""An operator's forced pull of one booking, by the channel's booking id.

For a booking innsync missed (a lost webhook, a revision gone from the feed): the adapter reads
the booking as the channel holds it now (``ReadsBooking``) and the revision is kept in the inbox
like any pulled one (once per revision id), for the processor to apply exactly once. Nothing
here writes a reservation.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from innsync.channels.contract import ReadsBooking
from innsync.channels.errors import ChannelRejectedError
from innsync.connections import audit
from innsync.connections.models import Connection
from innsync.db.units import UnitsOfWork
from innsync.errors import ConflictError, InvalidInputError, NotFoundError
from innsync.inbox.models import InboxItem
from innsync.inbox.service import pulled_key, store_pulled
from innsync.inbox.timing import AdapterFactory
from innsync.properties.service import get_owned

PULLED = "booking_pulled"
MAX_BOOKING_ID = 128  # reservations.channel_booking_id


@dataclass(frozen=True, slots=True)
class ForcedPull:
    channel_booking_id: str
    revision_id: str
    stored: bool  # False: the inbox already held this revision
    inbox_item_id: int
    status: str  # the inbox item's status now


async def pull_booking(
    db: UnitsOfWork,
    tenant_id: uuid.UUID,
    connection_id: uuid.UUID,
    channel_booking_id: str,
    adapter_for: AdapterFactory,
    actor: str,
) -> ForcedPull:
    """Read the booking from the channel and keep its revision in the inbox (audited)."""
    if not channel_booking_id.strip() or len(channel_booking_id) > MAX_BOOKING_ID:
        raise InvalidInputError(
            f"a channel booking id is 1 to {MAX_BOOKING_ID} characters, not blank"
        )

    def prepare(session: Session) -> tuple[str, object]:
        connection = get_owned(session, Connection, tenant_id, connection_id)
        if connection.state == "disabled":
            raise ConflictError("the connection is disabled: nothing is received on it")
        return connection.channel, adapter_for(connection)

    channel, adapter = await db.read(prepare)
    if not isinstance(adapter, ReadsBooking):
        raise ConflictError(
            f"the {channel} channel cannot read one booking: wait for its next pull or webhook"
        )
    try:
        revision = await adapter.read_booking(channel_booking_id)
    except ChannelRejectedError as exc:
        # The booking id is the caller's: a channel that does not give it is a 404, with why.
        raise NotFoundError(
            f"the {channel} channel gave no booking {channel_booking_id!r}: {exc}"
        ) from exc

    def keep(session: Session) -> ForcedPull:
        connection = get_owned(session, Connection, tenant_id, connection_id)
        stored = store_pulled(session, connection, [revision]) == 1
        item = session.scalars(
            select(InboxItem).where(
                InboxItem.connection_id == connection.id,
                InboxItem.dedupe_key == pulled_key(revision.revision_id),
            )
        ).one()
        audit.record(
            session,
            connection,
            actor,
            PULLED,
            {
                "channel_booking_id": channel_booking_id,
                "revision_id": revision.revision_id,
                "stored": stored,
                "inbox_item_id": item.id,
            },
        )
        return ForcedPull(
            channel_booking_id, revision.revision_id, stored, item.id, str(item.status)
        )

    return await db.write(keep)

"""Waking the inbound work that waits for a channel to answer again.

An item whose revision could not be fetched, and an acknowledgement the channel did not take,
wait with a backoff that doubles per attempt. That spares a channel that stays down, but after a
long run of failures it leaves them asleep for minutes once the channel is back. Any answer
from the channel on the connection (a push taken, a revision fetched, a pull read, an
acknowledgement taken) shows that the fault has cleared: the connection's work that waits for
the channel is due again at once. Work that waits for anything else (a bug met by its data, a
person) keeps its backoff.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.orm import Session

from innsync.connections.models import Connection
from innsync.inbox.models import ACK_DUE, PENDING, InboxItem
from innsync.inbox.timing import ACK_LEASE, LEASE

# The reasons under which the processor leaves an item waiting for the channel.
CHANNEL_UNAVAILABLE = "channel unavailable: "
CREDENTIALS_REFUSED = "channel refused the credentials: "
# In an acknowledgement's error, after "attempt N: ": the channel failed to take it.
ACK_WAITS_FOR_CHANNEL = "waiting for the channel: "

# Only a wait longer than this is cut short. It is past a lease (an item or acknowledgement
# being worked on is due at most a lease ahead, by its holder's clock, so it is never handed to
# a second processor) with a margin for the clocks of different hosts; a shorter wait ends soon
# enough by itself.
SKEW_MARGIN = timedelta(seconds=5)


def wake_waiting(session: Session, connection_id: uuid.UUID, now: datetime) -> None:
    """In the caller's transaction: the channel just answered one of the connection's calls,
    so its items and acknowledgements backed off by the channel's failures are due now."""
    _wake(session, InboxItem.connection_id == connection_id, now)


def wake_waiting_on_account(session: Session, account_id: uuid.UUID, now: datetime) -> None:
    """:func:`wake_waiting` for every connection on a channel account: the channel answered
    a call made with the account's credentials (a feed read for all of them)."""
    on_account = select(Connection.id).where(Connection.account_id == account_id)
    _wake(session, InboxItem.connection_id.in_(on_account), now)


def _wake(session: Session, whose: ColumnElement[bool], now: datetime) -> None:
    item_waits = and_(
        InboxItem.status == PENDING,
        InboxItem.not_before > now + LEASE + SKEW_MARGIN,
        or_(
            InboxItem.reason.startswith(CHANNEL_UNAVAILABLE, autoescape=True),
            InboxItem.reason.startswith(CREDENTIALS_REFUSED, autoescape=True),
        ),
    )
    ack_waits = and_(
        InboxItem.ack_status == ACK_DUE,
        InboxItem.ack_not_before > now + ACK_LEASE + SKEW_MARGIN,
        InboxItem.ack_error.contains(ACK_WAITS_FOR_CHANNEL, autoescape=True),
    )
    # Found by a plain read first, then updated by id: nearly always nothing waits, and an
    # UPDATE that scanned the connection's items would lock rows other processors hold
    # (a deadlock on MariaDB).
    waiting = sorted(session.scalars(select(InboxItem.id).where(whose, or_(item_waits, ack_waits))))
    if not waiting:
        return
    for condition, due in ((item_waits, "not_before"), (ack_waits, "ack_not_before")):
        session.execute(
            update(InboxItem)
            .where(InboxItem.id.in_(waiting), condition)
            .values({due: now})
            .execution_options(synchronize_session=False)
        )

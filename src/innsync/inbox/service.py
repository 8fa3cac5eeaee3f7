"""Ingress use-cases: find a webhook's connection, verify the caller, store the call raw; keep
pulled revisions once.

Nothing here calls a channel: verification is local (a shared secret, a signature), and what a
message means is worked out later by the processor.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Literal

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from innsync.channels.contract import ReceivesWebhooks
from innsync.channels.errors import BadSignatureError
from innsync.channels.revision_json import revision_to_bytes
from innsync.channels.types import BookingRevision, UnreadableMessage
from innsync.connections.models import Connection
from innsync.db.base import utcnow
from innsync.inbox.models import PARKED, PENDING, PULL, REJECTED, WEBHOOK, InboxItem

# Channel booking messages are a few kilobytes; a megabyte leaves room for large group bookings
# and bounds what one call can make innsync store.
MAX_WEBHOOK_BYTES = 1_000_000
# Calls that fail verification are kept for audit with this much of their body: enough to see
# what was sent, too little for someone holding a leaked webhook URL to fill the disk (the
# default of INNSYNC_WEBHOOK_REJECTED_BODY_BYTES; the API passes the setting).
REJECTED_BODY_KEPT = 16_384
MAX_TOKEN_LENGTH = 64  # connections.webhook_token
REDACTED = "[redacted]"
# Header names holding credentials (matched as substrings, case-insensitively). Signatures are
# kept: they are not secrets, and they let an operator check a message again.
SECRET_HEADER_PARTS = ("auth", "cookie", "secret", "token", "password", "credential", "key")

Received = Literal["stored", "duplicate", "rejected"]


def connection_for_token(session: Session, token: str) -> Connection | None:
    """The connection whose webhook URL this is, if it takes webhooks; ``None`` otherwise."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    connection = session.scalar(select(Connection).where(Connection.webhook_token == token))
    if connection is None or not connection.webhook_enabled or connection.state == "disabled":
        return None
    return connection


def dedupe_key(body: bytes) -> str:
    """The same bytes delivered again are the same message.

    Duplicates that differ in their bytes (a redelivery with a new timestamp) are stored twice
    and made harmless by the processor, which applies each booking revision once, in order.
    """
    return "sha256:" + hashlib.sha256(body).hexdigest()


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers as stored: names lower-cased, credentials replaced."""
    kept = {}
    for name, value in headers.items():
        lowered = name.lower()
        secret = any(part in lowered for part in SECRET_HEADER_PARTS)
        kept[lowered] = REDACTED if secret else value
    return kept


def receive_webhook(
    session: Session,
    connection: Connection,
    receiver: ReceivesWebhooks,
    headers: Mapping[str, str],
    body: bytes,
    now: datetime | None = None,
    rejected_body_bytes: int = REJECTED_BODY_KEPT,
) -> Received:
    """Verify the caller, then store the call as a pending inbox item (once per dedupe key).

    A call that fails verification is stored too, as ``rejected``, for audit, with only the
    first ``rejected_body_bytes`` of its body; it is never processed and never deduplicated,
    so it cannot shadow a genuine delivery of the same bytes.
    """
    now = now or utcnow()
    try:
        receiver.verify_webhook(headers, body)
    except BadSignatureError as exc:
        session.add(
            _new_item(
                connection,
                headers,
                body[:rejected_body_bytes],
                now,
                f"rejected:{uuid.uuid4().hex}",
                REJECTED,
                f"verification failed: {exc}",
            )
        )
        session.flush()
        return "rejected"
    stored = _store_once(session, _new_item(connection, headers, body, now, dedupe_key(body)))
    return "stored" if stored else "duplicate"


def store_pulled(
    session: Session,
    connection: Connection,
    revisions: Sequence[BookingRevision],
    now: datetime | None = None,
) -> int:
    """Keep each pulled revision once, as a pending item; returns how many were new.

    A pulled revision's dedupe key is the channel's revision id, so pulling it again (an
    unacknowledged feed repeats itself) stores nothing. The same revision may also arrive by
    webhook under another key; the processor applies it once either way.
    """
    now = now or utcnow()
    return sum(
        _store_once(
            session,
            _new_item(
                connection,
                {},
                revision_to_bytes(revision),
                now,
                pulled_key(revision.revision_id),
                source=PULL,
            ),
        )
        for revision in revisions
    )


def pulled_key(revision_id: str) -> str:
    """The dedupe key of a pulled revision: its channel revision id."""
    return f"revision:{revision_id}"[:128]


def store_unreadable(
    session: Session,
    connection: Connection,
    messages: Sequence[UnreadableMessage],
    now: datetime | None = None,
) -> list[InboxItem]:
    """Keep each unreadable pulled message once, as ``rejected`` (for audit, never processed);
    returns the items new to innsync, which a person must be told about."""
    now = now or utcnow()
    kept = []
    for message in messages:
        item = _new_item(
            connection,
            {},
            message.body[:MAX_WEBHOOK_BYTES],
            now,
            f"unreadable:{message.key}"[:128],
            REJECTED,
            f"unreadable: {message.reason}"[:500],
            source=PULL,
        )
        if _store_once(session, item):
            kept.append(item)
    return kept


def _store_once(session: Session, item: InboxItem) -> bool:
    """Add the item unless its connection already holds one with the same dedupe key."""
    if _stored(session, item.connection_id, item.dedupe_key):
        return False
    try:
        # Two deliveries of the same message may race; the unique key lets one of them win.
        with session.begin_nested():
            session.add(item)
    except IntegrityError:
        return False
    return True


def _stored(session: Session, connection_id: uuid.UUID, key: str) -> bool:
    found = session.scalar(
        select(InboxItem.id).where(
            InboxItem.connection_id == connection_id, InboxItem.dedupe_key == key
        )
    )
    return found is not None


def _new_item(
    connection: Connection,
    headers: Mapping[str, str],
    body: bytes,
    now: datetime,
    key: str,
    status: str = PENDING,
    reason: str = "",
    source: str = WEBHOOK,
) -> InboxItem:
    return InboxItem(
        connection_id=connection.id,
        tenant_id=connection.tenant_id,
        received_at=now,
        source=source,
        dedupe_key=key,
        headers=redact_headers(headers),
        body=body,
        status=status,
        reason=reason,
        attempts=0,
        processed_at=None if status == PENDING else now,
    )


def reprocess_parked(session: Session, connection_id: uuid.UUID) -> int:
    """Queue the connection's parked items again (its mappings changed); returns how many."""
    result = session.execute(
        update(InboxItem)
        .where(InboxItem.connection_id == connection_id, InboxItem.status == PARKED)
        .values(status=PENDING, reason="", attempts=0, not_before=None, processed_at=None)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]

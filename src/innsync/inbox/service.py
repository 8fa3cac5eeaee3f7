"""Ingress use-cases: find a webhook's connection, verify the caller, store the call raw; keep
pulled revisions once.

Nothing here calls a channel: verification is local (a shared secret, a signature), and what a
message means is worked out later by the processor.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal, cast

from sqlalchemy import Dialect, Executable, Table, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from innsync.channels.contract import ReceivesWebhooks
from innsync.channels.errors import BadSignatureError
from innsync.channels.revision_json import revision_to_bytes
from innsync.channels.types import BookingRevision, UnreadableMessage
from innsync.connections.models import Connection
from innsync.db.base import utcnow
from innsync.db.driver_insert import DIALECTS as DRIVER_INSERT_DIALECTS
from innsync.db.driver_insert import InsertIfNew, insert_if_new, insert_statement
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
# One search per header instead of one per part: every webhook's headers pass here.
_SECRET_NAME = re.compile("|".join(map(re.escape, SECRET_HEADER_PARTS)))

Received = Literal["stored", "duplicate", "rejected"]
MYSQL_DUPLICATE_KEY = 1062  # ER_DUP_ENTRY
# What a new item is stored with; the rest (its id, the NULLs of later steps) take defaults.
INSERTED_COLUMNS = (
    "connection_id",
    "tenant_id",
    "received_at",
    "source",
    "dedupe_key",
    "headers",
    "body",
    "status",
    "reason",
    "attempts",
    "processed_at",
    "ack_revision_ids",
    "ack_attempts",
    "ack_error",
)
# The unique key of a stored call: the same message from the same connection is kept once.
DEDUPE_COLUMNS = ("connection_id", "dedupe_key")
_TABLE = cast(Table, InboxItem.__table__)


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
        kept[lowered] = REDACTED if _SECRET_NAME.search(lowered) else value
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

    A call that fails verification is stored too, as ``rejected`` (see ``webhook_values``).
    """
    verified, values = webhook_values(
        connection.id, connection.tenant_id, receiver, headers, body, now, rejected_body_bytes
    )
    stored = insert_once(session, values) is not None
    if not verified:
        return "rejected"
    return "stored" if stored else "duplicate"


def webhook_values(
    connection_id: uuid.UUID,
    tenant_id: uuid.UUID,
    receiver: ReceivesWebhooks,
    headers: Mapping[str, str],
    body: bytes,
    now: datetime | None = None,
    rejected_body_bytes: int = REJECTED_BODY_KEPT,
) -> tuple[bool, dict[str, Any]]:
    """Verify the caller; whether it passed, and the inbox row to insert for the call.

    A verified call is a pending item under its body's dedupe key. A call that fails
    verification becomes a ``rejected`` item, for audit, with only the first
    ``rejected_body_bytes`` of its body and a key of its own: it is never processed and never
    deduplicated, so it cannot shadow a genuine delivery of the same bytes.
    """
    now = now or utcnow()
    try:
        receiver.verify_webhook(headers, body)
    except BadSignatureError as exc:
        return False, _item_values(
            connection_id,
            tenant_id,
            headers,
            body[:rejected_body_bytes],
            now,
            f"rejected:{uuid.uuid4().hex}",
            REJECTED,
            f"verification failed: {exc}",
        )
    return True, _item_values(connection_id, tenant_id, headers, body, now, dedupe_key(body))


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
    stored = insert_once(session, item_values(item))
    if stored is not None:
        item.id = stored
    return stored is not None


def insert_once(session: Session, values: Mapping[str, Any]) -> int | None:
    """One ``INSERT`` that stores the row unless its (connection, dedupe key) is taken: the new
    row's id, or ``None`` for a duplicate. Two deliveries of the same message may race; the
    unique key lets exactly one of them win, without a savepoint or a read first."""
    # On the session's connection, not ``session.execute``: a Core statement needs none of the
    # ORM's bulk-insert machinery, which costs more than the insert on a hot path.
    connection = session.connection()
    dialect = connection.dialect.name
    # One statement per dialect, the values passed as parameters: a statement built with its
    # values would be compiled (its cache key computed over every value) on each call.
    statement = _INSERTS.get(dialect)
    if statement is None:
        statement = _INSERTS[dialect] = _insert_statement(dialect)
    if dialect in ("mysql", "mariadb"):
        # Not INSERT IGNORE: it would also turn a NULL or a broken foreign key into a warning
        # and a stored default. A duplicate key fails only this statement (InnoDB rolls back
        # the statement, not the transaction), so the error is the answer.
        try:
            result = connection.execute(statement, dict(values))
        except IntegrityError as exc:
            if _error_code(exc) != MYSQL_DUPLICATE_KEY:
                raise
            return None
        return int(result.inserted_primary_key[0])  # type: ignore[index]
    return connection.execute(statement, dict(values)).scalar_one_or_none()


def insert_new(session: Session, rows: Sequence[Mapping[str, Any]]) -> list[bool]:
    """Store the rows whose (connection, dedupe key) is not taken, in the order given: for
    each, whether it was stored (of rows sharing a key, the first is).

    On SQLite and PostgreSQL through the driver's cursor (``db.driver_insert``). MariaDB has no
    ``ON CONFLICT``: row by row there, as ``insert_once``.
    """
    if not rows:
        return []
    connection = session.connection()
    if connection.dialect.name not in DRIVER_INSERT_DIALECTS:
        return [insert_once(session, row) is not None for row in rows]
    return insert_if_new(connection, _TABLE, INSERTED_COLUMNS, DEDUPE_COLUMNS, rows)


def inbox_insert(dialect: Dialect) -> InsertIfNew | None:
    """The inbox's insert-if-new on the driver's cursor, whose rows can be bound before their
    transaction (the webhook group commit); ``None`` on MariaDB (``insert_new`` goes row by row)."""
    if dialect.name not in DRIVER_INSERT_DIALECTS:
        return None
    return insert_statement(_TABLE, INSERTED_COLUMNS, DEDUPE_COLUMNS, dialect)


def _insert_statement(dialect: str) -> Executable:
    if dialect in ("mysql", "mariadb"):
        return insert(InboxItem)
    upsert = sqlite_insert if dialect == "sqlite" else postgresql_insert
    return (
        upsert(InboxItem)
        .on_conflict_do_nothing(index_elements=["connection_id", "dedupe_key"])
        # RETURNING: the row count of an INSERT ... RETURNING is not reliable across drivers.
        .returning(InboxItem.id)
    )


_INSERTS: dict[str, Executable] = {}


def _error_code(exc: IntegrityError) -> int | None:
    args = getattr(exc.orig, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


def item_values(item: InboxItem) -> dict[str, Any]:
    """The column values of an item not yet added to a session, for a Core ``INSERT``."""
    return {column: getattr(item, column) for column in INSERTED_COLUMNS}


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
        **_item_values(
            connection.id, connection.tenant_id, headers, body, now, key, status, reason, source
        )
    )


def _item_values(
    connection_id: uuid.UUID,
    tenant_id: uuid.UUID,
    headers: Mapping[str, str],
    body: bytes,
    now: datetime,
    key: str,
    status: str = PENDING,
    reason: str = "",
    source: str = WEBHOOK,
) -> dict[str, Any]:
    return {
        "connection_id": connection_id,
        "tenant_id": tenant_id,
        "received_at": now,
        "source": source,
        "dedupe_key": key,
        "headers": redact_headers(headers),
        "body": body,
        "status": status,
        "reason": reason,
        "attempts": 0,
        "processed_at": None if status == PENDING else now,
        "ack_revision_ids": [],
        "ack_attempts": 0,
        "ack_error": "",
    }


def reprocess_parked(session: Session, connection_id: uuid.UUID) -> int:
    """Queue the connection's parked items again (its mappings changed); returns how many."""
    result = session.execute(
        update(InboxItem)
        .where(InboxItem.connection_id == connection_id, InboxItem.status == PARKED)
        .values(status=PENDING, reason="", attempts=0, not_before=None, processed_at=None)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]

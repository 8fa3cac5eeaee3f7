"""Re-encrypting every stored secret under the newest key, after a new key was put first."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, bindparam, column, select, table
from sqlalchemy.orm import Session

from innsync.connections.models import ChannelAccount, Connection
from innsync.crypto import SecretBox
from innsync.db.personal import (
    EncryptedBytes,
    EncryptedJSON,
    EncryptedText,
    install_keys,
    reseal_bytes,
)
from innsync.events.models import WebhookSubscription
from innsync.reservations.guests import refresh_hashes
from innsync.reservations.models import Guest
from innsync.schema import metadata

# Rows re-encrypted per statement: bounded memory however large the inbox is.
BATCH = 500


def rotate_secrets(session: Session, box: SecretBox) -> int:
    """Rotate connection configs, channel accounts, webhook secrets and all personal data
    (with the keyed hashes of guests); returns how many values were re-encrypted.

    After this, keys other than the first can be removed from ``INNSYNC_SECRET_KEYS``.
    """
    rotated = 0
    for connection in session.scalars(select(Connection)):
        connection.config_encrypted = box.rotate(connection.config_encrypted)
        rotated += 1
    for account in session.scalars(select(ChannelAccount)):
        account.config_encrypted = box.rotate(account.config_encrypted)
        rotated += 1
    for subscription in session.scalars(select(WebhookSubscription)):
        subscription.secret_encrypted = box.rotate(subscription.secret_encrypted)
        rotated += 1
    install_keys(box)
    session.flush()
    for stored in metadata.sorted_tables:
        rotated += _rotate_table(session, stored)
    for guest in session.scalars(select(Guest).execution_options(yield_per=BATCH)):
        refresh_hashes(guest)
    return rotated


def _rotate_table(session: Session, stored: Table) -> int:
    """Re-encrypt the table's personal columns, read and written as stored (tokens), in key
    order a batch at a time."""
    sealed = [
        c.name
        for c in stored.columns
        if isinstance(c.type, EncryptedText | EncryptedJSON | EncryptedBytes)
    ]
    if not sealed:
        return 0
    (key,) = (c.name for c in stored.primary_key.columns)
    raw = table(stored.name, column(key), *(column(name) for name in sealed))
    update = (
        raw.update()
        .where(raw.c[key] == bindparam("k"))
        .values({name: bindparam(f"v_{name}") for name in sealed})
    )
    rotated, after = 0, None
    while True:
        query = select(raw).order_by(raw.c[key]).limit(BATCH)
        if after is not None:
            query = query.where(raw.c[key] > after)
        rows = session.execute(query).all()
        if not rows:
            return rotated
        values: list[dict[str, Any]] = []
        for row in rows:
            fresh: dict[str, Any] = {"k": row[0]}
            for name, token in zip(sealed, row[1:], strict=True):
                fresh[f"v_{name}"] = _reseal(token)
                rotated += token is not None
            values.append(fresh)
        session.execute(update, values)
        after = rows[-1][0]


def _reseal(token: Any) -> Any:
    if token is None:
        return None
    if isinstance(token, bytes | bytearray | memoryview):
        return reseal_bytes(bytes(token))
    return reseal_bytes(str(token).encode()).decode()

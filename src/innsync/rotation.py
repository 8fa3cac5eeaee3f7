"""Re-encrypting every stored secret under the newest key, after a new key was put first."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from innsync.connections.models import ChannelAccount, Connection
from innsync.crypto import SecretBox
from innsync.events.models import WebhookSubscription


def rotate_secrets(session: Session, box: SecretBox) -> int:
    """Rotate connection configs, channel accounts and webhook secrets; returns how many were
    re-encrypted.

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
    return rotated

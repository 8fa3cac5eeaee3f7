"""Where the backup key comes from, and why it is never the database's own key."""

from __future__ import annotations

from innsync.backups.cipher import BackupKey, BackupKeyError
from innsync.settings import Settings


def backup_key_from(settings: Settings) -> BackupKey:
    """The configured backup key; refused when missing or equal to a secret-at-rest key (a
    backup must stay safe when the database and its keys are lost together, and the reverse)."""
    if settings.backup_key is None:
        raise BackupKeyError(
            "INNSYNC_BACKUP_KEY is not set: make one with `innsync backup key` and keep a copy "
            "away from the backups"
        )
    encoded = settings.backup_key.get_secret_value().strip()
    if settings.secret_keys is not None:
        secret_keys = {k.strip() for k in settings.secret_keys.get_secret_value().split(",")}
        if encoded in secret_keys:
            raise BackupKeyError(
                "INNSYNC_BACKUP_KEY must differ from every INNSYNC_SECRET_KEYS key"
            )
    return BackupKey(encoded)

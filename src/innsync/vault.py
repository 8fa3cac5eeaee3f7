"""Where the encryption keys for secrets at rest come from."""

from __future__ import annotations

from innsync.crypto import SecretBox, load_or_create_key_file
from innsync.settings import Settings


def secret_box_from(settings: Settings) -> SecretBox:
    """Keys from INNSYNC_SECRET_KEYS, else from a local key file created on first use."""
    if settings.secret_keys is not None:
        keys = [k.strip() for k in settings.secret_keys.get_secret_value().split(",") if k.strip()]
        return SecretBox(keys)
    return SecretBox(load_or_create_key_file(settings.secret_key_file))

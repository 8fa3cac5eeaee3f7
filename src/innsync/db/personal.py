"""Personal data at rest: column types that encrypt guests' details and stored raw bodies under
the secret keys (``INNSYNC_SECRET_KEYS``, the rotating keys of channel credentials), and keyed
hashes for the few fields looked up by exact value (a guest's e-mail and phone).

A column type sees neither the request nor the session, only the dialect, so the keys are
installed once per process (:func:`install_keys`) by what opens the database for work: the
background loops (``serve``, ``worker``, every app) do; anything else (a CLI command, a
migration) gets them from the settings on first use. Every key ever installed in the process
still decrypts, so a process that installs a newer key list keeps reading older rows.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from typing import Any

from sqlalchemy import Dialect, LargeBinary, Text
from sqlalchemy.dialects import mysql
from sqlalchemy.types import TypeDecorator

from innsync.crypto import SecretBox, SecretBoxError

# What keyed hashes are derived for; changing it would orphan every stored hash.
HASH_PURPOSE = "personal-data-index"

_lock = threading.Lock()
_current: SecretBox | None = None
_previous: list[SecretBox] = []


def install_keys(box: SecretBox) -> None:
    """Encrypt and hash with ``box`` from now on; boxes installed before still decrypt."""
    global _current
    with _lock:
        if _current is box:
            return
        if box in _previous:
            _previous.remove(box)
        if _current is not None:
            _previous.insert(0, _current)
        _current = box


def current_keys() -> SecretBox:
    """The installed keys, or the settings' keys when nothing installed them yet."""
    if _current is None:
        from innsync.settings import get_settings
        from innsync.vault import secret_box_from

        install_keys(secret_box_from(get_settings()))
    assert _current is not None
    return _current


def _boxes() -> list[SecretBox]:
    return [current_keys(), *_previous]


def seal_bytes(plaintext: bytes) -> bytes:
    return current_keys().encrypt_bytes(plaintext)


def open_bytes(token: bytes) -> bytes:
    for box in _boxes():
        try:
            return box.decrypt_bytes(token)
        except SecretBoxError:
            continue
    raise SecretBoxError("personal data cannot be decrypted with the configured keys")


def reseal_bytes(token: bytes) -> bytes:
    """The same data encrypted under the newest key (rotation)."""
    return seal_bytes(open_bytes(token))


def personal_hash(value: str) -> str:
    """The keyed hash stored beside an encrypted field, under the newest key."""
    return _hash_with(current_keys().derived_keys(HASH_PURPOSE)[0], value)


def personal_hashes(value: str) -> list[str]:
    """Every hash ``value`` may be stored under: until rotation rewrote them, rows keep the
    hash of the key that was newest when they were written."""
    found: list[str] = []
    for box in _boxes():
        for key in box.derived_keys(HASH_PURPOSE):
            digest = _hash_with(key, value)
            if digest not in found:
                found.append(digest)
    return found


def _hash_with(key: bytes, value: str) -> str:
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


# Encrypted text grows by a third plus ~60 bytes; MariaDB's TEXT stops at 64 KB.
_SEALED_TEXT = Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")
_SEALED_BYTES = LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb")


class EncryptedText(TypeDecorator[str]):
    """Text stored as a Fernet token; ``None`` stays ``None`` (it says nothing personal)."""

    impl = _SEALED_TEXT
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else seal_bytes(value.encode()).decode()

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else open_bytes(str(value).encode()).decode()


class EncryptedJSON(TypeDecorator[Any]):
    """A JSON document stored as a Fernet token of its text."""

    impl = _SEALED_TEXT
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        return seal_bytes(text.encode()).decode()

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else json.loads(open_bytes(str(value).encode()))


class EncryptedBytes(TypeDecorator[bytes]):
    """Raw bytes (a webhook body) stored as a Fernet token."""

    impl = _SEALED_BYTES
    cache_ok = True

    def process_bind_param(self, value: bytes | None, dialect: Dialect) -> bytes | None:
        return None if value is None else seal_bytes(bytes(value))

    def process_result_value(self, value: Any, dialect: Dialect) -> bytes | None:
        return None if value is None else open_bytes(bytes(value))

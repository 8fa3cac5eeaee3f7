"""Encryption at rest (several keys for rotation) and hashing of API keys.

Secrets (channel credentials) are Fernet tokens. Bytes (personal data, raw webhook bodies) are
sealed with AES-256-GCM under a key derived from each configured key: every webhook's body is
sealed on its way to the inbox, and Fernet (AES-CBC and HMAC assembled in Python) cost ten times
as much CPU (``docs/benchmarks.md``, webhook_ingest). Bytes sealed with Fernet before still open.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

logger = logging.getLogger(__name__)
# Sealed bytes: this prefix, then URL-safe base64 of a 96-bit nonce and the AES-GCM ciphertext
# with its tag; text, so the same token fits text and binary columns. Fernet tokens start "gAAA".
SEALED_PREFIX = b"s1."
_NONCE_BYTES = 12
# What the AES-GCM keys are derived for (``derived_keys``); changing it orphans sealed data.
SEAL_PURPOSE = "sealed-bytes-aes-256-gcm"


class SecretBoxError(ValueError):
    """A stored secret could not be decrypted with any configured key."""


class SecretBox:
    """Encrypts with the first key, decrypts with any: add a new key first to rotate."""

    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ValueError("at least one encryption key is required")
        self._keys = tuple(keys)
        self._fernet = MultiFernet([Fernet(key.encode()) for key in keys])
        self._aeads = [AESGCM(key) for key in self.derived_keys(SEAL_PURPOSE)]

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise SecretBoxError("secret cannot be decrypted with the configured keys") from exc

    def rotate(self, token: str) -> str:
        """Re-encrypt a stored secret under the newest key."""
        return self._fernet.rotate(token.encode()).decode()

    def encrypt_bytes(self, plaintext: bytes) -> bytes:
        """``plaintext`` sealed under the newest key (``SEALED_PREFIX`` and base64 text)."""
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aeads[0].encrypt(nonce, plaintext, None)
        return SEALED_PREFIX + base64.urlsafe_b64encode(nonce + sealed)

    def decrypt_bytes(self, token: bytes) -> bytes:
        """Bytes sealed with any configured key, by ``encrypt_bytes`` or as a Fernet token."""
        if not token.startswith(SEALED_PREFIX):
            try:
                return self._fernet.decrypt(token)
            except InvalidToken as exc:
                raise SecretBoxError("data cannot be decrypted with the configured keys") from exc
        try:
            raw = base64.b64decode(token[len(SEALED_PREFIX) :], altchars=b"-_", validate=True)
        except (binascii.Error, ValueError) as exc:
            raise SecretBoxError("sealed data is not valid base64") from exc
        nonce, sealed = raw[:_NONCE_BYTES], raw[_NONCE_BYTES:]
        for aead in self._aeads:
            try:
                return aead.decrypt(nonce, sealed, None)
            except (InvalidTag, ValueError):
                continue
        raise SecretBoxError("data cannot be decrypted with the configured keys")

    def derived_keys(self, purpose: str) -> list[bytes]:
        """One key per configured key (newest first), derived for ``purpose``: a keyed hash
        made with one never reveals the encryption key, and rotation changes it too."""
        label = f"innsync:{purpose}".encode()
        return [hmac.new(key.encode(), label, hashlib.sha256).digest() for key in self._keys]


def generate_key() -> str:
    return Fernet.generate_key().decode()


def load_or_create_key_file(path: Path) -> list[str]:
    """Keys from a local file, created (mode 0600) on first use for the embedded default."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(generate_key() + "\n")
        logger.warning("created a new encryption key file", extra={"path": str(path)})
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def hash_api_key(key: str) -> str:
    """API keys carry 256 random bits, so a fast hash is as safe as a slow one here."""
    return hashlib.sha256(key.encode()).hexdigest()


def sign(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def constant_time_equal(left: str, right: str) -> bool:
    return hmac.compare_digest(left.encode(), right.encode())

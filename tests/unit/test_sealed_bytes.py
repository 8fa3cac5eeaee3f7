"""Sealed bytes (personal data, webhook bodies): AES-GCM tokens, and Fernet tokens still open."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from innsync.crypto import SEALED_PREFIX, SecretBox, SecretBoxError, generate_key

BODY = b'{"booking": "BK-1", "guest": "Ada Lovelace"}'


def test_sealed_bytes_open_to_the_plaintext_and_never_show_it() -> None:
    box = SecretBox([generate_key()])
    first, second = box.encrypt_bytes(BODY), box.encrypt_bytes(BODY)
    assert first.startswith(SEALED_PREFIX)
    assert b"Ada" not in first
    assert first != second  # a fresh nonce each time
    first.decode("ascii")  # text: the same token fits text columns
    assert box.decrypt_bytes(first) == box.decrypt_bytes(second) == BODY


def test_fernet_tokens_written_before_still_open() -> None:
    key = generate_key()
    old = Fernet(key.encode()).encrypt(BODY)
    assert SecretBox([key]).decrypt_bytes(old) == BODY


def test_any_configured_key_opens_and_the_newest_seals() -> None:
    old_key, new_key = generate_key(), generate_key()
    sealed_before = SecretBox([old_key]).encrypt_bytes(BODY)
    rotated = SecretBox([new_key, old_key])
    assert rotated.decrypt_bytes(sealed_before) == BODY
    resealed = rotated.encrypt_bytes(rotated.decrypt_bytes(sealed_before))
    assert SecretBox([new_key]).decrypt_bytes(resealed) == BODY
    with pytest.raises(SecretBoxError):
        SecretBox([old_key]).decrypt_bytes(resealed)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda token: token[:-2] + (b"AA" if token[-2:] != b"AA" else b"BB"),  # tag changed
        lambda token: token[: len(SEALED_PREFIX) + 8],  # cut short
        lambda token: token + b"!!",  # not base64
        lambda token: b"gAAAAAnot-a-fernet-token",
    ],
)
def test_tampered_or_foreign_tokens_are_refused(mangle: object) -> None:
    box = SecretBox([generate_key()])
    with pytest.raises(SecretBoxError):
        box.decrypt_bytes(mangle(box.encrypt_bytes(BODY)))  # type: ignore[operator]

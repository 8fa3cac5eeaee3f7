"""The encrypted frame stream a backup's data is written in (AES-256-GCM, one key per backup).

Layout: a header ``MAGIC | version | salt(16) | key fingerprint(8)``, then frames
``length(4, big-endian) | final(1) | ciphertext``. Each frame holds up to ``FRAME_BYTES`` of
zlib-compressed plaintext. The key of one backup is HKDF-SHA256(backup key, salt), so nonces
(the frame counter) never repeat under a key. Every frame authenticates the header, its counter
and whether it is the last: a reordered, dropped, altered or truncated frame fails, and a stream
without its final frame is refused as truncated.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct
import zlib
from collections.abc import Iterator
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MAGIC = b"INNSYNCB"
VERSION = 1
SALT_BYTES = 16
FINGERPRINT_BYTES = 8
HEADER_BYTES = len(MAGIC) + 1 + SALT_BYTES + FINGERPRINT_BYTES
# Plaintext per frame: large enough that the 16-byte tag and 5-byte prefix cost nothing, small
# enough that reading and restoring hold only a few of them in memory.
FRAME_BYTES = 1024 * 1024
# A frame's ciphertext can only be bigger than its plaintext by zlib's worst case plus the tag;
# a length beyond this is damage, refused before anything is allocated for it.
MAX_CIPHERTEXT_BYTES = FRAME_BYTES + FRAME_BYTES // 100 + 1024
_FRAME_PREFIX = struct.Struct(">IB")


class BackupError(Exception):
    """A backup cannot be made, read or restored; the message says why, for an operator."""


class BackupKeyError(BackupError):
    """The backup key is missing, malformed, or not the key this backup was made with."""


class BackupCorruptError(BackupError):
    """The backup's bytes were altered or cut short; nothing from it is restored."""


class BackupKey:
    """The operator's backup key (32 random bytes, urlsafe base64), never the database's keys."""

    def __init__(self, encoded: str) -> None:
        try:
            raw = base64.urlsafe_b64decode(encoded.strip().encode())
        except (binascii.Error, ValueError) as exc:
            raise BackupKeyError("the backup key is not urlsafe base64") from exc
        if len(raw) != 32:
            raise BackupKeyError("the backup key must be 32 bytes (`innsync backup key` makes one)")
        self._raw = raw

    @property
    def fingerprint(self) -> str:
        """A public name for the key, stored in each backup so a wrong key is told apart from
        damage before any decryption is tried."""
        digest = hmac.new(self._raw, b"innsync-backup-key-fingerprint", hashlib.sha256)
        return digest.hexdigest()[: FINGERPRINT_BYTES * 2]

    def data_key(self, salt: bytes) -> bytes:
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=b"innsync-backup-v1")
        return hkdf.derive(self._raw)


def generate_backup_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def _aad(header: bytes, counter: int, final: bool) -> bytes:
    return header + counter.to_bytes(8, "big") + (b"\x01" if final else b"\x00")


def _nonce(counter: int) -> bytes:
    return counter.to_bytes(12, "big")


class FrameWriter:
    """Buffers plaintext and writes it as compressed, encrypted frames; ``close`` writes the
    final frame, without which a reader refuses the stream."""

    def __init__(self, sink: BinaryIO, key: BackupKey) -> None:
        salt = os.urandom(SALT_BYTES)
        self._header = MAGIC + bytes([VERSION]) + salt + bytes.fromhex(key.fingerprint)
        self._aead = AESGCM(key.data_key(salt))
        self._sink = sink
        self._buffer = bytearray()
        self._counter = 0
        sink.write(self._header)

    def write(self, data: bytes) -> None:
        self._buffer += data
        while len(self._buffer) >= FRAME_BYTES:
            self._emit(bytes(self._buffer[:FRAME_BYTES]), final=False)
            del self._buffer[:FRAME_BYTES]

    def close(self) -> None:
        self._emit(bytes(self._buffer), final=True)
        self._buffer.clear()

    def _emit(self, plaintext: bytes, *, final: bool) -> None:
        sealed = self._aead.encrypt(
            _nonce(self._counter),
            zlib.compress(plaintext, 6),
            _aad(self._header, self._counter, final),
        )
        self._sink.write(_FRAME_PREFIX.pack(len(sealed), int(final)))
        self._sink.write(sealed)
        self._counter += 1


def read_header(source: BinaryIO) -> tuple[bytes, str]:
    """The header bytes and the fingerprint of the key the stream was written with."""
    header = source.read(HEADER_BYTES)
    if len(header) != HEADER_BYTES or not header.startswith(MAGIC):
        raise BackupCorruptError("not an innsync backup: the data file's header is missing")
    if header[len(MAGIC)] != VERSION:
        raise BackupCorruptError(f"unsupported backup cipher version {header[len(MAGIC)]}")
    return header, header[-FINGERPRINT_BYTES:].hex()


def decrypt_frames(source: BinaryIO, key: BackupKey) -> Iterator[bytes]:
    """The plaintext of each frame, in order, each authenticated before it is yielded."""
    header, fingerprint = read_header(source)
    if fingerprint != key.fingerprint:
        raise BackupKeyError(
            f"wrong backup key: this backup was made with key {fingerprint}, the configured "
            f"INNSYNC_BACKUP_KEY is {key.fingerprint}"
        )
    salt = header[len(MAGIC) + 1 : len(MAGIC) + 1 + SALT_BYTES]
    aead = AESGCM(key.data_key(salt))
    counter = 0
    while True:
        prefix = source.read(_FRAME_PREFIX.size)
        if len(prefix) < _FRAME_PREFIX.size:
            raise BackupCorruptError(f"backup is truncated: it ends after frame {counter}")
        length, final = _FRAME_PREFIX.unpack(prefix)
        if length > MAX_CIPHERTEXT_BYTES or final not in (0, 1):
            raise BackupCorruptError(f"backup is damaged: frame {counter} has a bad length")
        sealed = source.read(length)
        if len(sealed) < length:
            raise BackupCorruptError(f"backup is truncated: frame {counter} is cut short")
        try:
            compressed = aead.decrypt(_nonce(counter), sealed, _aad(header, counter, bool(final)))
        except InvalidTag as exc:
            raise BackupCorruptError(
                f"backup is damaged or was altered: frame {counter} fails authentication"
            ) from exc
        inflater = zlib.decompressobj()
        plaintext = inflater.decompress(compressed, FRAME_BYTES)
        if inflater.unconsumed_tail or not inflater.eof:
            raise BackupCorruptError(f"backup is damaged: frame {counter} does not inflate")
        yield plaintext
        counter += 1
        if final:
            break
    if source.read(1):
        raise BackupCorruptError("backup is damaged: data follows its final frame")

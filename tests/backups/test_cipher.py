"""The frame stream: many frames round-trip; a swapped, dropped or cut frame is refused."""

from __future__ import annotations

import io
import os
import struct

import pytest

from innsync.backups.cipher import (
    FRAME_BYTES,
    HEADER_BYTES,
    BackupCorruptError,
    BackupKey,
    BackupKeyError,
    FrameWriter,
    decrypt_frames,
    generate_backup_key,
)

# Random bytes do not compress: three and a half frames of them.
PLAINTEXT = os.urandom(3 * FRAME_BYTES + FRAME_BYTES // 2)


def sealed(key: BackupKey, data: bytes = PLAINTEXT, piece: int = 70_000) -> bytes:
    sink = io.BytesIO()
    writer = FrameWriter(sink, key)
    for start in range(0, len(data), piece):
        writer.write(data[start : start + piece])
    writer.close()
    return sink.getvalue()


def frames(raw: bytes) -> tuple[bytes, list[bytes]]:
    """The header and each whole frame (prefix and ciphertext)."""
    found, offset = [], HEADER_BYTES
    while offset < len(raw):
        (length,) = struct.unpack(">I", raw[offset : offset + 4])
        found.append(raw[offset : offset + 5 + length])
        offset += 5 + length
    return raw[:HEADER_BYTES], found


def test_many_frames_round_trip() -> None:
    key = BackupKey(generate_backup_key())
    raw = sealed(key)

    chunks = list(decrypt_frames(io.BytesIO(raw), key))

    assert b"".join(chunks) == PLAINTEXT
    assert [len(chunk) for chunk in chunks] == [FRAME_BYTES] * 3 + [FRAME_BYTES // 2]


@pytest.mark.parametrize("change", ["swap", "drop", "drop last", "duplicate"])
def test_rearranged_frames_are_refused(change: str) -> None:
    key = BackupKey(generate_backup_key())
    header, parts = frames(sealed(key))
    if change == "swap":
        parts[0], parts[1] = parts[1], parts[0]
    elif change == "drop":
        del parts[1]
    elif change == "drop last":
        del parts[-1]
    else:
        parts.insert(1, parts[1])

    with pytest.raises(BackupCorruptError, match=r"fails authentication|truncated"):
        b"".join(decrypt_frames(io.BytesIO(header + b"".join(parts)), key))


def test_a_frame_from_another_backup_is_refused() -> None:
    key = BackupKey(generate_backup_key())
    header, parts = frames(sealed(key))
    _, other = frames(sealed(key))

    with pytest.raises(BackupCorruptError, match="frame 1 fails authentication"):
        b"".join(decrypt_frames(io.BytesIO(header + parts[0] + b"".join(other[1:])), key))


def test_a_huge_declared_length_is_refused_before_reading() -> None:
    key = BackupKey(generate_backup_key())
    header, parts = frames(sealed(key))
    bogus = struct.pack(">IB", 2**31, 0)

    with pytest.raises(BackupCorruptError, match="bad length"):
        b"".join(decrypt_frames(io.BytesIO(header + bogus + parts[0][5:]), key))


def test_malformed_keys_are_refused() -> None:
    with pytest.raises(BackupKeyError, match="32 bytes"):
        BackupKey("c2hvcnQ=")
    with pytest.raises(BackupKeyError, match="base64"):
        BackupKey("not base64 at all!")

"""Where backups are kept: a local directory by default.

Each backup is objects named after it: ``NAME.data`` (the encrypted stream), ``NAME.manifest.json``
(readable without the key) and, once a verify passed, ``NAME.verified.json``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import BinaryIO, Protocol

from innsync.backups.cipher import BackupError
from innsync.settings import Settings

DATA = ".data"
MANIFEST = ".manifest.json"
VERIFIED = ".verified.json"


class BackupStore(Protocol):
    """Keeps a backup's objects; a store never sees plaintext."""

    def put_file(self, name: str, path: Path) -> None: ...

    def put_bytes(self, name: str, data: bytes) -> None: ...

    def open(self, name: str) -> AbstractContextManager[BinaryIO]: ...

    def read_bytes(self, name: str) -> bytes | None: ...

    def names(self) -> list[str]: ...

    def size(self, name: str) -> int: ...

    def delete(self, name: str) -> None: ...

    def describe(self) -> str: ...


class LocalStore:
    """A directory on this host; writes land under a temporary name and are renamed into place,
    so a crash never leaves a half-written object under a backup's name."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, name: str) -> Path:
        if "/" in name or "\\" in name or name.startswith("."):
            raise BackupError(f"not a backup object name: {name!r}")
        return self.root / name

    def put_file(self, name: str, path: Path) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        partial = self._path(name + ".partial")
        shutil.copyfile(path, partial)
        os.replace(partial, self._path(name))

    def put_bytes(self, name: str, data: bytes) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        partial = self._path(name + ".partial")
        partial.write_bytes(data)
        os.replace(partial, self._path(name))

    @contextmanager
    def open(self, name: str) -> Iterator[BinaryIO]:
        path = self._path(name)
        if not path.exists():
            raise BackupError(f"no object {name} in {self.describe()}")
        with path.open("rb") as handle:
            yield handle

    def read_bytes(self, name: str) -> bytes | None:
        path = self._path(name)
        return path.read_bytes() if path.exists() else None

    def names(self) -> list[str]:
        if not self.root.exists():
            return []
        return sorted(path.name for path in self.root.iterdir() if path.is_file())

    def size(self, name: str) -> int:
        return self._path(name).stat().st_size

    def delete(self, name: str) -> None:
        self._path(name).unlink(missing_ok=True)

    def describe(self) -> str:
        return str(self.root.resolve())


def store_from(settings: Settings) -> BackupStore:
    """The store the settings name: INNSYNC_BACKUP_S3_BUCKET when set, else the local directory
    INNSYNC_BACKUP_DIR."""
    if settings.backup_s3_bucket is None:
        return LocalStore(settings.backup_dir)
    from innsync.backups.s3 import S3Store  # boto3 loads only for those who use it

    secret = settings.backup_s3_secret_access_key
    config = {
        "endpoint_url": settings.backup_s3_endpoint_url,
        "region_name": settings.backup_s3_region,
        "aws_access_key_id": settings.backup_s3_access_key_id,
        "aws_secret_access_key": secret.get_secret_value() if secret is not None else None,
    }
    return S3Store(
        settings.backup_s3_bucket,
        settings.backup_s3_prefix,
        **{name: value for name, value in config.items() if value is not None},
    )

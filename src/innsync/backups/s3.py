"""An S3-compatible bucket as the backup store (AWS S3, MinIO, Ceph, Garage…), through boto3.

Objects are ``PREFIX/NAME.data`` and so on; uploads are multipart and streamed from the
temporary file, downloads are read in frames, so neither holds a backup in memory. The store
only ever sees ciphertext and manifests.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, cast

import boto3
from boto3.exceptions import Boto3Error
from botocore.exceptions import BotoCoreError, ClientError

from innsync.backups.cipher import BackupError


class S3Store:
    """Backups in one bucket under a prefix."""

    def __init__(self, bucket: str, prefix: str = "", client: Any | None = None, **config: Any):
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self._client = client if client is not None else boto3.client("s3", **config)

    def _key(self, name: str) -> str:
        if "/" in name:
            raise BackupError(f"not a backup object name: {name!r}")
        return self.prefix + name

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        try:
            yield
        except (BotoCoreError, ClientError, Boto3Error) as exc:
            raise BackupError(f"S3 store {self.describe()}: {what} failed: {exc}") from exc

    def put_file(self, name: str, path: Path) -> None:
        with self._errors(f"upload of {name}"):
            self._client.upload_file(str(path), self.bucket, self._key(name))

    def put_bytes(self, name: str, data: bytes) -> None:
        with self._errors(f"upload of {name}"):
            self._client.put_object(Bucket=self.bucket, Key=self._key(name), Body=data)

    @contextmanager
    def open(self, name: str) -> Iterator[BinaryIO]:
        with self._errors(f"download of {name}"):
            try:
                answer = self._client.get_object(Bucket=self.bucket, Key=self._key(name))
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                    raise BackupError(f"no object {name} in {self.describe()}") from exc
                raise
            body = answer["Body"]
            try:
                yield cast(BinaryIO, body)
            finally:
                body.close()

    def read_bytes(self, name: str) -> bytes | None:
        with self._errors(f"download of {name}"):
            try:
                answer = self._client.get_object(Bucket=self.bucket, Key=self._key(name))
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                    return None
                raise
            data: bytes = answer["Body"].read()
            return data

    def names(self) -> list[str]:
        found: list[str] = []
        with self._errors("listing"):
            pages = self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix
            )
            for page in pages:
                for item in page.get("Contents", []):
                    rest = item["Key"][len(self.prefix) :]
                    if "/" not in rest:
                        found.append(rest)
        return sorted(found)

    def size(self, name: str) -> int:
        with self._errors(f"size of {name}"):
            answer = self._client.head_object(Bucket=self.bucket, Key=self._key(name))
            return int(answer["ContentLength"])

    def delete(self, name: str) -> None:
        with self._errors(f"delete of {name}"):
            self._client.delete_object(Bucket=self.bucket, Key=self._key(name))

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

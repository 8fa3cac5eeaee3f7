"""One suite for every backup store: the local directory and an S3-compatible bucket.

The bucket is served by moto's standalone server (``moto_server``, from PyPI), started here as
its own process on a loopback port and spoken to over HTTP by boto3, as a real S3-compatible
server would be. moto is an emulator of AWS's API, not a production object store: it checks
what boto3 sends (signatures, multipart uploads, listing, ranges), not durability.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, func, select

from innsync.backups.cipher import BackupError, BackupKey
from innsync.backups.retention import Policy
from innsync.backups.service import (
    create_backup,
    delete_backup,
    list_backups,
    prune_backups,
    restore_backup,
    verify_backup,
)
from innsync.backups.store import BackupStore, LocalStore, store_from
from innsync.db.engine import session_factory
from innsync.settings import Settings
from innsync.tenants.models import Tenant
from tests.api.helpers import new_tenant
from tests.servers import free_port

pytestmark = pytest.mark.backends("sqlite")
BUCKET = "hotel-backups"


@pytest.fixture(scope="module")
def s3_server() -> Iterator[str]:
    command = shutil.which("moto_server", path=str(Path(sys.executable).parent))
    assert command is not None, "moto[server] is a dev dependency"
    port = free_port()
    process = subprocess.Popen(
        [command, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def s3_settings(endpoint: str, prefix: str) -> Settings:
    return Settings(
        backup_s3_bucket=BUCKET,
        backup_s3_prefix=prefix,
        backup_s3_endpoint_url=endpoint,
        backup_s3_region="us-east-1",
        backup_s3_access_key_id="test-access-key",
        backup_s3_secret_access_key=SecretStr("test-secret-key"),
    )


@pytest.fixture(params=["local", "s3"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> BackupStore:
    if request.param == "local":
        return LocalStore(tmp_path / "backups")
    endpoint = request.getfixturevalue("s3_server")
    store = store_from(s3_settings(endpoint, f"innsync/{tmp_path.name}"))
    client = store._client  # type: ignore[attr-defined]
    if BUCKET not in {bucket["Name"] for bucket in client.list_buckets()["Buckets"]}:
        client.create_bucket(Bucket=BUCKET)
    return store


def test_every_store_keeps_restores_and_deletes(
    any_store: BackupStore, committed: Engine, key: BackupKey, empty_database: Any
) -> None:
    new_tenant(session_factory(committed), "Hotel Aurora")
    first = create_backup(committed, any_store, key, actor="test")
    second = create_backup(committed, any_store, key, actor="test")
    verify_backup(committed, any_store, first.name, key, actor="test")

    listed = list_backups(any_store)
    assert [info.manifest.name for info in listed] == [first.name, second.name]
    assert [info.verified_at is not None for info in listed] == [
        info.manifest.name == first.name for info in listed
    ]
    assert all(info.size_bytes == info.manifest.data_bytes for info in listed)

    target = empty_database("sqlite")
    restore_backup(target, any_store, second.name, key, actor="test")
    with target.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(Tenant)) == 1

    # Only one hourly slot: the newest stays, and the verified one, whatever the policy.
    assert prune_backups(committed, any_store, Policy(1, 0, 0), actor="test") == []
    delete_backup(committed, any_store, first.name, actor="test")
    assert [info.manifest.name for info in list_backups(any_store)] == [second.name]
    with pytest.raises(BackupError, match="no backup named"):
        verify_backup(committed, any_store, first.name, key, actor="test")


def test_a_bucket_that_does_not_exist_is_a_clear_error(
    s3_server: str, committed: Engine, key: BackupKey
) -> None:
    settings = s3_settings(s3_server, "innsync")
    store = store_from(settings.model_copy(update={"backup_s3_bucket": "no-such-bucket"}))

    with pytest.raises(BackupError, match=r"S3 store s3://no-such-bucket/innsync/: upload"):
        create_backup(committed, store, key, actor="test")

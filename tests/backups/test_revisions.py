"""A backup restores into a database of an older schema (migrated up to the backup's first),
and a backup of a schema this innsync does not know is refused before anything is written."""

from __future__ import annotations

from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine

from innsync.backups.cipher import BackupError, BackupKey
from innsync.backups.restore import existing_rows, migrate_to
from innsync.backups.service import create_backup, restore_backup
from innsync.backups.store import LocalStore
from innsync.db.engine import session_factory
from innsync.db.migrate import alembic_config, current_revision, head_revision
from tests.api.helpers import new_tenant
from tests.backups.test_roundtrip import table_sums

pytestmark = pytest.mark.backends("sqlite", "postgresql")


def test_restore_into_a_database_of_an_older_schema(
    committed: Engine, empty_database: Any, store: LocalStore, key: BackupKey
) -> None:
    new_tenant(session_factory(committed), "Villa Sole")
    before = table_sums(committed)
    manifest = create_backup(committed, store, key, actor="test")
    target = empty_database(committed.dialect.name)
    config = alembic_config()
    with target.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0009")
    assert current_revision(target) == "0009"

    restore_backup(target, store, manifest.name, key, actor="test")

    assert current_revision(target) == head_revision()
    assert table_sums(target) == before


def test_a_schema_this_innsync_does_not_know_is_refused(empty_database: Any) -> None:
    target = empty_database("sqlite")

    with pytest.raises(BackupError, match="made by a newer innsync"):
        migrate_to(target, "9999")

    assert current_revision(target) is None
    assert existing_rows(target) == {}

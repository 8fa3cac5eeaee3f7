"""``innsync backup`` end to end on SQLite files, as an operator runs it."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from innsync.backups.cipher import generate_backup_key
from innsync.cli.main import cli
from innsync.settings import get_settings
from tests.databases import missing


def run(args: list[str]) -> Result:
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(cli, args)
    finally:
        get_settings.cache_clear()


@pytest.fixture
def operator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("INNSYNC_DATABASE_URL", f"sqlite:///{tmp_path / 'live.sqlite3'}")
    monkeypatch.setenv("INNSYNC_SECRET_KEY_FILE", str(tmp_path / "secret-key"))
    monkeypatch.setenv("INNSYNC_BACKUP_KEY", generate_backup_key())
    monkeypatch.setenv("INNSYNC_BACKUP_DIR", str(tmp_path / "backups"))
    assert run(["migrate"]).exit_code == 0
    assert run(["tenant", "create", "--name", "Villa Sole"]).exit_code == 0
    return tmp_path


def test_create_list_verify_restore_delete(operator: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    created = run(["backup", "create"])
    assert created.exit_code == 0, created.output
    name = created.stdout.split()[1]
    assert name.startswith("innsync-")

    verified = run(["backup", "verify"])
    assert verified.exit_code == 0, verified.output
    assert f"backup {name} verified" in verified.stdout

    listed = run(["backup", "list"])
    assert listed.exit_code == 0, listed.output
    line = next(line for line in listed.stdout.splitlines() if line.strip().startswith(name))
    assert " verified 20" in line
    operations = listed.stdout.split("operations:")[1].splitlines()[1:]
    assert [op.split()[2:4] for op in operations] == [["verify", "ok"], ["create", "ok"]]
    assert all("by cli:" in op for op in operations)

    refused = run(["backup", "restore", name])
    assert refused.exit_code == 1
    assert "not empty (tenants 1 rows, api_keys 1 rows); restore with --force" in refused.output

    forced = run(["backup", "restore", name, "--force"])
    assert forced.exit_code == 0, forced.output
    assert (
        "this replaces everything in the database: tenants 1 rows, api_keys 1 rows"
        in forced.stdout.splitlines()[1]
    )

    monkeypatch.setenv("INNSYNC_DATABASE_URL", f"sqlite:///{operator / 'new.sqlite3'}")
    restored = run(["backup", "restore", name])
    assert restored.exit_code == 0, restored.output
    tenants = run(["tenant", "list"])
    assert tenants.stdout.split("  ")[1] == "Villa Sole"

    monkeypatch.setenv("INNSYNC_DATABASE_URL", f"sqlite:///{operator / 'live.sqlite3'}")
    assert run(["backup", "delete", name]).exit_code == 0
    assert name not in run(["backup", "list"]).stdout.split("operations:")[0]
    assert not list((operator / "backups").iterdir())


def test_without_a_backup_key_nothing_is_made(
    operator: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("INNSYNC_BACKUP_KEY")

    result = run(["backup", "create"])

    assert result.exit_code == 1
    assert "INNSYNC_BACKUP_KEY is not set" in result.output
    assert not (operator / "backups").exists()


def test_the_backup_key_cannot_be_the_secret_key(
    operator: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    same = generate_backup_key()
    monkeypatch.setenv("INNSYNC_BACKUP_KEY", same)
    monkeypatch.setenv("INNSYNC_SECRET_KEYS", same)

    result = run(["backup", "create"])

    assert result.exit_code == 1
    assert "must differ from every INNSYNC_SECRET_KEYS key" in result.output


def test_export_and_import_one_tenant(operator: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert run(["tenant", "create", "--name", "Casa Mare"]).exit_code == 0

    exported = run(["backup", "export", "--tenant", "Casa Mare"])
    assert exported.exit_code == 0, exported.output
    name = exported.stdout.split()[1]
    assert name.startswith("innsync-tenant-")

    monkeypatch.setenv("INNSYNC_DATABASE_URL", f"sqlite:///{operator / 'other.sqlite3'}")
    assert run(["migrate"]).exit_code == 0
    assert run(["tenant", "create", "--name", "Resident"]).exit_code == 0
    imported = run(["backup", "import", name])
    assert imported.exit_code == 0, imported.output
    assert "innsync keys rotate" in imported.stdout

    names = [line.split("  ")[1] for line in run(["tenant", "list"]).stdout.splitlines()]
    assert sorted(names) == ["Casa Mare", "Resident"]
    operations = run(["backup", "list"]).stdout.split("operations:")[1]
    assert "import   ok" in operations


@pytest.mark.backends("postgresql")
def test_create_native_on_postgresql_then_portable(
    committed: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--native`` takes a pg_dump where it is installed; ``--portable`` overrides the setting."""
    if not (shutil.which("pg_dump") and shutil.which("psql")):
        missing("pg_dump and psql are not installed")
    url = committed.url.render_as_string(hide_password=False)
    monkeypatch.setenv("INNSYNC_DATABASE_URL", url)
    monkeypatch.setenv("INNSYNC_SECRET_KEY_FILE", str(tmp_path / "secret-key"))
    monkeypatch.setenv("INNSYNC_BACKUP_KEY", generate_backup_key())
    monkeypatch.setenv("INNSYNC_BACKUP_DIR", str(tmp_path / "backups"))
    monkeypatch.setenv("INNSYNC_BACKUP_NATIVE_DUMPS", "true")

    native = run(["backup", "create", "--verify"])
    portable = run(["backup", "create", "--portable"])

    assert native.exit_code == 0, native.output
    assert ", pg_dump (PostgreSQL) " in native.stdout
    assert native.stdout.splitlines()[-1].endswith("verified")
    assert portable.exit_code == 0, portable.output
    assert ", portable, schema " in portable.stdout

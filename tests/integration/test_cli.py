"""The command line: tenants and keys for operators, and always the database it means."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from innsync.cli.main import cli
from innsync.db.engine import build_engine, session_factory
from innsync.errors import AuthenticationError
from innsync.settings import get_settings
from innsync.tenants.service import authenticate, list_tenants


def test_tenant_create_prints_the_key_last(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    monkeypatch.setenv("INNSYNC_DATABASE_URL", url)
    monkeypatch.setenv("INNSYNC_SECRET_KEY_FILE", str(tmp_path / "key"))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["tenant", "create", "--name", "Villa Sole"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    key = result.output.strip().splitlines()[-1]
    assert key.startswith("isk_")
    engine = build_engine(url)
    with session_factory(engine)() as session:
        principal = authenticate(session, key)
    engine.dispose()
    assert principal.scopes == frozenset({"admin"})


def test_help_lists_the_commands() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for command in ("serve", "migrate", "tenant"):
        assert command in result.output


def _run(args: list[str]) -> Result:
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(cli, args)
    finally:
        get_settings.cache_clear()


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """An absolute SQLite URL set in the environment, as an operator configures it."""
    url = f"sqlite:///{tmp_path / 'ops.sqlite3'}"
    monkeypatch.setenv("INNSYNC_DATABASE_URL", url)
    monkeypatch.setenv("INNSYNC_SECRET_KEY_FILE", str(tmp_path / "key"))
    return url


def test_tenant_list_shows_every_tenant_and_its_active_keys(database: str) -> None:
    created = [_run(["tenant", "create", "--name", name]) for name in ("Villa Sole", "Casa Mare")]
    assert [result.exit_code for result in created] == [0, 0]
    ids = [result.stdout.splitlines()[0].split()[1] for result in created]

    listed = _run(["tenant", "list"])

    assert listed.exit_code == 0, listed.output
    lines = listed.stdout.splitlines()
    assert [line.split("  ")[:2] for line in lines] == [
        [ids[0], "Villa Sole"],
        [ids[1], "Casa Mare"],
    ]
    assert all(line.endswith("1 active key(s)") for line in lines)
    assert f"database: {database}" in listed.stderr


def test_keys_create_recovers_a_lost_admin_key(database: str) -> None:
    assert _run(["tenant", "create", "--name", "Villa Sole"]).exit_code == 0

    by_name = _run(["keys", "create", "--tenant", "Villa Sole"])
    assert by_name.exit_code == 0, by_name.output
    tenant_id = by_name.stdout.splitlines()[0].split("(")[-1].rstrip(")")
    by_id = _run(["keys", "create", "--tenant", tenant_id, "--scope", "read", "--name", "audit"])
    assert by_id.exit_code == 0, by_id.output

    engine = build_engine(database)
    with session_factory(engine)() as session:
        admin = authenticate(session, by_name.stdout.splitlines()[-1])
        reader = authenticate(session, by_id.stdout.splitlines()[-1])
        summaries = list_tenants(session)
    engine.dispose()
    assert admin.scopes == frozenset({"admin"})
    assert reader.scopes == frozenset({"read"})
    assert str(admin.tenant_id) == str(reader.tenant_id) == tenant_id
    assert [summary.active_keys for summary in summaries] == [3]

    unknown = _run(["keys", "create", "--tenant", "Nowhere Inn"])
    assert unknown.exit_code == 1
    assert "no tenant with id or name 'Nowhere Inn'" in unknown.output


def test_keys_create_can_make_a_key_that_expires(database: str) -> None:
    assert _run(["tenant", "create", "--name", "Villa Sole"]).exit_code == 0
    made = _run(["keys", "create", "--tenant", "Villa Sole", "--expires-in-days", "2"])
    assert made.exit_code == 0, made.output
    assert "it expires at " in made.stdout
    engine = build_engine(database)
    with session_factory(engine)() as session:
        key = made.stdout.splitlines()[-1]
        assert authenticate(session, key, now=datetime.now(UTC) + timedelta(days=1))
        with pytest.raises(AuthenticationError, match="expired"):
            authenticate(session, key, now=datetime.now(UTC) + timedelta(days=3))
    engine.dispose()
    refused = _run(["keys", "create", "--tenant", "Villa Sole", "--expires-in-days", "0"])
    assert refused.exit_code == 2


@pytest.mark.parametrize(
    "args",
    [
        ["tenant", "create", "--name", "Villa Sole"],
        ["tenant", "list"],
        ["keys", "create", "--tenant", "Villa Sole"],
        ["serve", "--no-migrate"],
    ],
)
def test_a_command_run_in_the_wrong_directory_creates_no_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.delenv("INNSYNC_DATABASE_URL", raising=False)
    monkeypatch.setenv("INNSYNC_SECRET_KEY_FILE", str(tmp_path / "key"))

    result = _run(args)

    assert result.exit_code == 1
    assert f"no innsync database at {elsewhere / 'innsync.sqlite3'}" in result.output
    assert "innsync migrate" in result.output
    assert list(elsewhere.iterdir()) == []


def test_migrate_creates_the_database_and_says_where(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("INNSYNC_DATABASE_URL", raising=False)

    result = _run(["migrate"])

    assert result.exit_code == 0, result.output
    assert f"database: sqlite:///{tmp_path / 'innsync.sqlite3'}" in result.stderr
    assert (tmp_path / "innsync.sqlite3").exists()
    assert _run(["tenant", "list"]).exit_code == 0

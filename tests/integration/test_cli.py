"""The command line: ``innsync tenant create`` prints a working key as its last line."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from innsync.cli.main import cli
from innsync.db.engine import build_engine, session_factory
from innsync.settings import get_settings
from innsync.tenants.service import authenticate


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

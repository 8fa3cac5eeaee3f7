"""``innsync accounts``: the operator registers, grants, lists and rotates channel accounts."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from innsync.cli.main import cli
from innsync.connections.accounts import find_account
from innsync.connections.configs import account_part
from innsync.db.engine import build_engine, session_factory
from innsync.settings import get_settings
from innsync.vault import secret_box_from

KEY = "vendor-master-key"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    monkeypatch.setenv("INNSYNC_DATABASE_URL", url)
    monkeypatch.setenv("INNSYNC_SECRET_KEY_FILE", str(tmp_path / "key"))
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def run(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), input=stdin)


def test_register_grant_list_rotate_and_revoke(env: str) -> None:
    created = run("tenant", "create", "--name", "Villa Sole")
    assert created.exit_code == 0, created.output
    match = re.search(r"tenant (\S+) created", created.output)
    assert match is not None
    tenant_id = match.group(1)

    config = json.dumps({"base_url": "https://staging.channex.io/api/v1", "api_key": KEY})
    made = run(
        "accounts",
        "create",
        "--channel",
        "channex",
        "--name",
        "vendor",
        "--config-file",
        "-",
        stdin=config,
    )
    assert made.exit_code == 0, made.output
    assert "created: vendor (channex; fields api_key, base_url)" in made.output
    assert KEY not in made.output
    again = run(
        "accounts",
        "create",
        "--channel",
        "channex",
        "--name",
        "vendor",
        "--config-file",
        "-",
        stdin=config,
    )
    assert again.exit_code == 1
    assert "a channel account named 'vendor' exists already" in again.output
    invalid = run(
        "accounts",
        "create",
        "--channel",
        "channex",
        "--name",
        "x",
        "--config-file",
        "-",
        stdin='{"api_key": "k", "base_url": "ftp://x"}',
    )
    assert invalid.exit_code == 1
    assert "/config/base_url" in invalid.output

    granted = run("accounts", "grant", "vendor", "--tenant", tenant_id)
    assert granted.exit_code == 0, granted.output
    assert f"tenant {tenant_id} may now use vendor" in granted.output

    listed = run("accounts", "list")
    assert listed.exit_code == 0, listed.output
    assert "vendor (channex) fields: api_key, base_url; rotated: never" in listed.output
    assert f"tenants: {tenant_id}" in listed.output
    assert KEY not in listed.output

    rotated = run("accounts", "rotate", "vendor", "--config-file", "-", stdin='{"api_key": "k2"}')
    assert rotated.exit_code == 0, rotated.output
    assert "account vendor: api_key rotated" in rotated.output
    engine = build_engine(env)
    with session_factory(engine)() as session:
        account = find_account(session, "vendor")
        assert account.rotated_at is not None
        assert account_part(account, secret_box_from(get_settings())) == {
            "api_key": "k2",
            "base_url": "https://staging.channex.io/api/v1",
        }
    engine.dispose()

    revoked = run("accounts", "revoke", "vendor", "--tenant", tenant_id)
    assert revoked.exit_code == 0, revoked.output
    assert "tenants: none" in run("accounts", "list").output

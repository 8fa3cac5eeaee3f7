"""``innsync user create``: the password comes from a prompt or standard input, never argv."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from innsync.cli.main import cli
from innsync.db.engine import build_engine, session_factory
from innsync.db.migrate import upgrade
from innsync.settings import get_settings
from innsync.tenants.models import User
from innsync.tenants.service import create_tenant
from innsync.tenants.users import Passwords


def test_user_create(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'users.sqlite3'}"
    monkeypatch.setenv("INNSYNC_DATABASE_URL", url)
    # The cheapest Argon2 cost: the default takes about a second per hash on CI's machine.
    for name, value in (("TIME_COST", "1"), ("MEMORY_KIB", "1024"), ("PARALLELISM", "1")):
        monkeypatch.setenv(f"INNSYNC_PASSWORD_HASH_{name}", value)
    engine = build_engine(url)
    upgrade(engine)
    with session_factory(engine)() as session:
        tenant, _ = create_tenant(session, "Villa Sole")
        session.commit()
        tenant_id = tenant.id
    get_settings.cache_clear()
    create = ["user", "create", "--tenant", "Villa Sole", "--email", "Ana@Villa.example"]
    try:
        runner = CliRunner()
        piped = runner.invoke(cli, [*create, "--password-stdin"], input="a long enough secret\n")
        again = runner.invoke(
            cli,
            ["user", "create", "--tenant", "Villa Sole", "--email", "ana@villa.example"],
            input="another long secret\nanother long secret\n",
        )
        prompted = runner.invoke(
            cli,
            [*create[:-1], "bo@villa.example", "--role", "read_only"],
            input="prompted secret!\nprompted secret!\n",
        )
        short = runner.invoke(
            cli, [*create[:-1], "cy@villa.example", "--password-stdin"], input="short\n"
        )
        bad_role = runner.invoke(cli, [*create, "--role", "admin", "--password-stdin"])
    finally:
        get_settings.cache_clear()
    assert piped.exit_code == 0, piped.output
    assert "ana@villa.example (owner)" in piped.output
    assert "a long enough secret" not in piped.output
    assert again.exit_code == 1
    assert "a user with e-mail ana@villa.example exists" in again.output
    assert prompted.exit_code == 0, prompted.output
    assert short.exit_code == 1
    assert "12 to 1024 characters" in short.output
    assert bad_role.exit_code == 2
    with session_factory(engine)() as session:
        users = {u.email: u for u in session.scalars(select(User))}
    engine.dispose()
    assert sorted(users) == ["ana@villa.example", "bo@villa.example"]
    assert {u.tenant_id for u in users.values()} == {tenant_id}
    assert users["bo@villa.example"].role == "read_only"
    stored = users["ana@villa.example"].password_hash
    assert stored.startswith("$argon2id$")
    assert Passwords(1, 1024, 1).hasher.verify(stored, "a long enough secret")

"""docs/backups.md's shell blocks, run verbatim and in order: a SQLite installation backed up,
verified and restored into a new PostgreSQL database, as an operator would at 3 a.m."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from sqlalchemy import make_url

from innsync.cli.main import cli
from innsync.settings import get_settings

RUNBOOK = Path(__file__).resolve().parents[2] / "docs" / "backups.md"


def runbook() -> str:
    return "\n".join(re.findall(r"```sh\n(.*?)```", RUNBOOK.read_text(), flags=re.S))


def test_the_runbook_has_every_step() -> None:
    script = runbook()
    for step in ("backup key", "backup create", "backup verify", "backup restore"):
        assert step in script


def test_the_recovery_runbook_works_verbatim(
    tmp_path: Path, empty_database: Any, monkeypatch: Any
) -> None:
    live = f"sqlite:///{tmp_path / 'live.sqlite3'}"
    new = empty_database("postgresql").url.render_as_string(hide_password=False)
    env = {
        "INNSYNC_DATABASE_URL": live,
        "INNSYNC_SECRET_KEY_FILE": str(tmp_path / "secret-key"),
        "INNSYNC_BACKUP_DIR": str(tmp_path / "backups"),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        assert CliRunner().invoke(cli, ["migrate"]).exit_code == 0
        made = CliRunner().invoke(cli, ["tenant", "create", "--name", "Hotel Aurora"])
        assert made.exit_code == 0, made.output
    finally:
        get_settings.cache_clear()

    bin_dir = str(Path(sys.executable).parent)
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", runbook()],
        cwd=tmp_path,
        env={
            **os.environ,
            **env,
            "NEW_DATABASE_URL": new,
            "PATH": f"{bin_dir}:{os.environ['PATH']}",
        },
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert result.returncode == 0, result.stderr + result.stdout
    output = result.stdout
    names = re.findall(r"backup (innsync-\S+) created", output)
    assert len(names) == 1
    assert f"backup {names[0]} verified: " in output
    assert f"restoring {names[0]}: " in output
    assert "restored " in output
    assert re.search(r"^\S+  Hotel Aurora  created ", output, flags=re.M), output
    # The restore and the tenant list ran against the new PostgreSQL database.
    assert result.stderr.count(f"/{make_url(new).database}\n") == 2, result.stderr

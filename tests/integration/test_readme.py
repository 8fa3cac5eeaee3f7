"""The README's walk-through, run verbatim with bash and curl against a live innsync."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from innsync.api.app import create_app
from innsync.db.engine import build_engine
from innsync.db.migrate import upgrade
from innsync.settings import Settings
from tests.servers import serving

README = Path(__file__).resolve().parents[2] / "README.md"


def walkthrough() -> str:
    blocks = re.findall(r"```sh\n(.*?)```", README.read_text(), flags=re.S)
    return next(block for block in blocks if "tenant create" in block)


@pytest.mark.skipif(shutil.which("curl") is None, reason="the walk-through needs curl")
def test_readme_walkthrough_works_verbatim(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'readme.sqlite3'}"
    key_file = tmp_path / "key"
    engine = build_engine(url)
    upgrade(engine)
    settings = Settings(database_url=url, secret_key_file=key_file, background_loops=False)
    app = create_app(settings, engine=engine, run_loops=False)
    repo = README.parent
    with serving(app) as base_url:
        script = walkthrough().replace("http://127.0.0.1:8080", base_url)
        env = {**os.environ, "INNSYNC_DATABASE_URL": url, "INNSYNC_SECRET_KEY_FILE": str(key_file)}
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=repo,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    engine.dispose()
    assert result.returncode == 0, result.stderr
    output = result.stdout
    assert '"status":"applied","dates_changed":60' in output
    assert '"price":"108.00"' in output  # the derived plan, 10 % below 120.00
    assert '"total_amount":"216.00"' in output
    assert '"sold":1' in output
    assert '"kind":"reservation.created"' in output

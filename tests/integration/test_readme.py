"""The README's walk-through, run verbatim with bash and curl against a live innsync."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from innsync.api.app import create_app
from innsync.db.engine import build_engine
from innsync.db.migrate import upgrade
from innsync.settings import Settings
from tests.servers import serving

README = Path(__file__).resolve().parents[2] / "README.md"


# The walk-through's rates: 120.00 a night, 150.00 on Fridays and Saturdays; the booked plan is
# derived 10 % below them.
WEEKDAY_PRICE = Decimal("120.00")
WEEKEND_PRICE = Decimal("150.00")
FRIDAY, SATURDAY = 4, 5


def walkthrough() -> str:
    blocks = re.findall(r"```sh\n(.*?)```", README.read_text(), flags=re.S)
    return next(block for block in blocks if "tenant create" in block)


def expected_total(arrival: date, departure: date) -> Decimal:
    """The booking's total by the walk-through's own rules, whatever weekdays its nights fall on."""
    total = Decimal("0.00")
    night = arrival
    while night < departure:
        parent = WEEKEND_PRICE if night.weekday() in (FRIDAY, SATURDAY) else WEEKDAY_PRICE
        total += (parent * Decimal("0.9")).quantize(Decimal("0.01"))
        night += timedelta(days=1)
    return total


def test_expected_total_follows_the_weekend_rule() -> None:
    thursday = date(2026, 12, 10)
    assert expected_total(thursday, thursday + timedelta(days=2)) == Decimal("243.00")
    assert expected_total(thursday - timedelta(days=1), thursday + timedelta(days=1)) == Decimal(
        "216.00"
    )


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
    # The script books today + 10 and + 11 (by the machine's clock, which a test cannot freeze for
    # a subprocess): the expectation follows from the nights the reservation actually holds.
    stay = re.search(r'"arrival":"(\d{4}-\d{2}-\d{2})","departure":"(\d{4}-\d{2}-\d{2})"', output)
    assert stay is not None, output
    arrival, departure = (date.fromisoformat(value) for value in stay.groups())
    assert (departure - arrival).days == 2
    assert f'"total_amount":"{expected_total(arrival, departure)}"' in output
    assert '"sold":1' in output
    assert '"kind":"reservation.created"' in output

"""``innsync guests erase`` erases from the shell what the API erases, and prints no details."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from innsync.api.app import create_app
from innsync.cli.main import cli
from innsync.crypto import SecretBox
from innsync.db.engine import build_engine, session_factory
from innsync.db.migrate import upgrade
from innsync.db.personal import install_keys
from innsync.settings import Settings, get_settings
from tests.api.helpers import day, make_hotel, new_tenant, ok


def test_erase_by_email_from_the_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, secret_box: SecretBox
) -> None:
    url = f"sqlite:///{tmp_path / 'ops.sqlite3'}"
    monkeypatch.setenv("INNSYNC_DATABASE_URL", url)
    monkeypatch.setenv("INNSYNC_SECRET_KEYS", ",".join(secret_box._keys))
    engine = build_engine(url)
    upgrade(engine)
    sessions = session_factory(engine)
    caller = new_tenant(sessions, "Villa Sole")
    settings = Settings(database_url=url, background_loops=False)
    app = create_app(settings, engine=engine, secret_box=secret_box, run_loops=False)
    try:
        with TestClient(app) as client:
            hotel = make_hotel(client, caller, units=2)
            made = ok(
                client.post(
                    f"/api/v1/properties/{hotel.property_id}/reservations",
                    json={
                        "arrival": day(3),
                        "departure": day(5),
                        "rooms": [
                            {
                                "room_type_id": hotel.room_type_id,
                                "rate_plan_id": hotel.rate_plan_id,
                                "adults": 1,
                            }
                        ],
                        "guest": {"first_name": "Ada", "last_name": "Lovelace", "email": "a@x.io"},
                        "notes": "Ada's birthday",
                    },
                    headers=caller.headers,
                ),
                201,
            )
            get_settings.cache_clear()
            missing = CliRunner().invoke(
                cli, ["guests", "erase", "--tenant", "Villa Sole", "--email", "b@x.io"]
            )
            erased = CliRunner().invoke(
                cli, ["guests", "erase", "--tenant", "Villa Sole", "--email", "A@X.io"]
            )
            tenant = ["guests", "erase", "--tenant", "Villa Sole"]
            both = CliRunner().invoke(
                cli, [*tenant, "--email", "a@x.io", "--reservation", made["id"]]
            )
            read = ok(client.get(f"/api/v1/reservations/{made['id']}", headers=caller.headers))
    finally:
        get_settings.cache_clear()
        install_keys(secret_box)
        engine.dispose()

    assert missing.exit_code == 1
    assert "no guest with this e-mail" in missing.output
    assert erased.exit_code == 0, erased.output
    assert f"reservation {made['id']}" in erased.output
    assert "erased from 1 reservations" in erased.output
    assert "Ada" not in erased.output
    assert "a@x.io" not in erased.output.casefold()
    assert both.exit_code == 2
    assert "give either --reservation or --email" in both.output
    assert (read["guest"]["last_name"], read["guest"]["email"], read["notes"]) == ("", None, "")
    assert (read["arrival"], read["departure"], read["total_amount"]) == (
        made["arrival"],
        made["departure"],
        made["total_amount"],
    )

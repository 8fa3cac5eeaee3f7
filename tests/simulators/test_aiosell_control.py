"""Aiosell simulator: the shared `/_sim/` control plane (faults, reset, request log)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from innsync.cli.main import cli
from innsync.simulators.aiosell import SimulatorConfig
from tests.simulators.aiosell_support import (
    PARTNER,
    PASSWORD,
    build,
    inventory_body,
    rates_body,
)

INVENTORY = f"/api/v2/cm/update/{PARTNER}"
RATES = f"/api/v2/cm/update-rates/{PARTNER}"


def test_injected_server_errors_and_429_use_aiosell_envelope() -> None:
    sim = build()
    sim.post("/_sim/faults", {"server_error_rate": 1.0})
    response = sim.post(INVENTORY, inventory_body())
    assert response.status_code in (500, 502, 503)
    assert response.json()["success"] is False
    assert sim.get("/_sim/ari").json()["data"] == {}
    sim.post("/_sim/faults", {"server_error_rate": 0.0, "too_many_requests_rate": 1.0})
    limited = sim.post(INVENTORY, inventory_body())
    assert limited.status_code == 429
    assert limited.json() == {"success": False, "message": "Too Many Requests"}
    sim.request("DELETE", "/_sim/faults")
    assert sim.post(INVENTORY, inventory_body()).status_code == 200


def test_update_limit_per_rolling_second_when_configured() -> None:
    sim = build(updates_per_second=2)
    statuses = [sim.post(RATES, rates_body()).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert sim.post(f"/api/v2/cm/data/{PARTNER}", {"type": "rates"}).status_code == 400
    sim.clock.advance(seconds=1)
    assert sim.post(INVENTORY, inventory_body()).status_code == 200
    assert [build().post(RATES, rates_body()).status_code for _ in range(3)] == [200] * 3


def test_latency_and_timeout_sleep_then_answer() -> None:
    sim = build()
    sim.post("/_sim/faults", {"timeout_rate": 1.0, "timeout_seconds": 40})
    assert sim.post(INVENTORY, inventory_body()).status_code == 200
    assert sim.sleep.delays == [40.0]


def test_fault_settings_are_validated_in_the_envelope() -> None:
    sim = build()
    refused = sim.post("/_sim/faults", {"server_error_rate": 2})
    assert refused.status_code == 422
    assert refused.json()["success"] is False
    assert sim.get("/_sim/faults").json()["server_error_rate"] == 0.0


def test_same_seed_replays_the_same_faults() -> None:
    statuses = []
    for _ in range(2):
        sim = build()
        sim.post("/_sim/faults", {"server_error_rate": 0.5, "seed": 3})
        statuses.append([sim.post(INVENTORY, inventory_body()).status_code for _ in range(8)])
    assert statuses[0] == statuses[1]
    assert len(set(statuses[0])) > 1


def test_reset_forgets_pushes_reservations_deliveries_and_the_log() -> None:
    sim = build()
    sim.post(INVENTORY, inventory_body())
    sim.post(RATES, rates_body())
    first = sim.post("/_sim/reservations", {}).json()["data"][0]
    sim.post("/_sim/faults", {"server_error_rate": 1.0})
    assert sim.post("/_sim/reset").json() == {"message": "Success"}
    assert sim.get("/_sim/ari").json()["data"] == {}
    assert sim.get("/_sim/reservations").json()["data"] == []
    assert sim.get("/_sim/webhooks/deliveries").json()["data"] == []
    assert sim.get("/_sim/requests").json()["data"] == []
    assert sim.get("/_sim/faults").json()["server_error_rate"] == 0.0
    # The seeded sequences restart: the same booking is made again.
    again = sim.post("/_sim/reservations", {}).json()["data"][0]
    assert again["bookingId"] == first["bookingId"]


def test_request_log_keeps_full_bodies_with_secrets_masked() -> None:
    sim = build()
    body = inventory_body()
    body["password"] = "leaked"
    body["note"] = f"the partner password is {PASSWORD}"
    sim.post(INVENTORY, body)
    sim.post(INVENTORY, inventory_body(), auth="")
    plain = sim.get("/_sim/requests").json()["data"]
    assert [(r["path"], r["status"]) for r in plain] == [(INVENTORY, 200), (INVENTORY, 400)]
    assert "body" not in plain[0]
    rows = sim.get("/_sim/requests?bodies=1").json()["data"]
    logged = json.loads(rows[0]["body"])
    assert logged["updates"] == body["updates"]
    assert logged["password"] == "***"
    assert logged["note"] == "the partner password is ***"
    assert rows[0]["headers"]["authorization"] == "***"
    assert PASSWORD not in json.dumps(rows)


def test_cli_starts_the_simulator_with_the_options(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[tuple[str, int, SimulatorConfig]] = []

    def fake_run(host: str, port: int, config: SimulatorConfig) -> None:
        started.append((host, port, config))

    monkeypatch.setattr("innsync.simulators.aiosell.app.run", fake_run)
    url = "https://pms.example/hook"
    result = CliRunner().invoke(
        cli, ["simulate", "aiosell", "--port", "9123", "--seed", "5", "--webhook-url", url]
    )
    assert result.exit_code == 0, result.output
    host, port, config = started[0]
    assert (host, port, config.seed, config.webhook_url) == ("127.0.0.1", 9123, 5, url)
    assert config.password not in result.output


def test_cli_passes_the_webhook_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[SimulatorConfig] = []
    monkeypatch.setattr(
        "innsync.simulators.aiosell.app.run", lambda host, port, config: started.append(config)
    )
    monkeypatch.setenv("INNSYNC_SIM_AIOSELL_WEBHOOK_PASSWORD", "hook-secret")
    result = CliRunner().invoke(cli, ["simulate", "aiosell", "--webhook-user", "innsync"])
    assert result.exit_code == 0, result.output
    (config,) = started
    assert (config.webhook_username, config.webhook_password) == ("innsync", "hook-secret")
    assert "hook-secret" not in result.output

"""Every `innsync simulate NAME` command starts its simulator's server (none only prints)."""

from __future__ import annotations

from typing import Any

import click
import pytest
from click.testing import CliRunner

from innsync.cli.main import cli, simulate


def _commands() -> list[str]:
    assert isinstance(simulate, click.Group)
    return sorted(simulate.commands)


@pytest.mark.parametrize("name", _commands())
def test_the_command_serves_its_simulator_on_the_port_given(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[tuple[str, int, Any]] = []

    def fake_run(host: str, port: int, config: Any = None) -> None:
        started.append((host, port, config))

    monkeypatch.setattr(f"innsync.simulators.{name}.app.run", fake_run)
    result = CliRunner().invoke(cli, ["simulate", name, "--port", "9321"])
    assert result.exit_code == 0, result.output
    assert [(host, port) for host, port, _ in started] == [("127.0.0.1", 9321)]
    assert started[0][2] is not None  # the options reach the simulator as its config


def test_every_simulator_has_a_command() -> None:
    assert set(_commands()) >= {
        "agoda",
        "aiosell",
        "beds24",
        "booking_com",
        "channex",
        "expedia",
        "ical",
        "octorate",
    }

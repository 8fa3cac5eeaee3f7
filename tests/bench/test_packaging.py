"""The benchmark harness is its own distribution: never in innsync's wheel, mounted when present."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

from innsync.cli.bench import MISSING_MESSAGE, bench_command, missing_bench

ROOT = Path(__file__).resolve().parents[2]


def _pyproject(path: Path) -> dict[str, object]:
    with path.open("rb") as handle:
        return tomllib.load(handle)


def test_the_innsync_wheel_ships_only_the_product() -> None:
    config = _pyproject(ROOT / "pyproject.toml")
    wheel = config["tool"]["hatch"]["build"]["targets"]["wheel"]  # type: ignore[index]
    # The wheel is exactly src/innsync, and nothing of the bench lives under it.
    assert wheel == {"packages": ["src/innsync"]}
    assert not (ROOT / "src" / "innsync" / "bench").exists()
    assert not list((ROOT / "src").glob("**/innsync_bench"))
    runtime = config["project"]["dependencies"]  # type: ignore[index]
    assert not [d for d in runtime if d.startswith("innsync-bench")]  # type: ignore[attr-defined]


def test_the_bench_distribution_is_a_workspace_member_of_the_dev_install() -> None:
    root = _pyproject(ROOT / "pyproject.toml")
    bench = _pyproject(ROOT / "bench" / "pyproject.toml")
    assert root["tool"]["uv"]["workspace"]["members"] == ["bench"]  # type: ignore[index]
    assert "innsync-bench" in root["dependency-groups"]["dev"]  # type: ignore[index]
    assert bench["project"]["name"] == "innsync-bench"  # type: ignore[index]
    assert bench["tool"]["hatch"]["build"]["targets"]["wheel"] == {  # type: ignore[index]
        "packages": ["innsync_bench"]
    }


def test_a_development_install_mounts_the_real_bench_command() -> None:
    command = bench_command()
    assert command is not missing_bench
    assert "quick" in {param.name for param in command.params}


# A product install in one process: the bench package cannot be imported (None in sys.modules
# blocks it), then ``innsync`` runs as a user would call it; each exit code is printed.
PRODUCT_INSTALL = """
import sys
sys.modules["innsync_bench"] = None
from innsync.cli.main import cli
for arguments in (["bench", "full_sync", "--quick"], ["bench", "--help"], ["bench"], ["--help"]):
    try:
        cli.main(arguments, prog_name="innsync")
    except SystemExit as stop:
        print("exit", stop.code, flush=True)
"""


def test_without_the_bench_package_innsync_bench_explains_and_exits_2() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PRODUCT_INSTALL],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    exits = [line for line in result.stdout.splitlines() if line.startswith("exit ")]
    assert exits == ["exit 2", "exit 2", "exit 2", "exit 0"]
    assert result.stderr.count(MISSING_MESSAGE) == 3
    assert "Traceback" not in result.stderr
    assert "  bench " in result.stdout  # still listed by ``innsync --help``

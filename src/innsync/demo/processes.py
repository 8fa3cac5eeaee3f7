"""The demo's two servers as child processes, each with its log file in the data directory.

Children start in their own session, so the Ctrl-C a terminal sends to the demo's process group
reaches only the demo: it stops the traffic, checks the result with both servers still running,
and then stops them itself.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

# The CLI's entry point, run by this interpreter: no installed script is needed.
INNSYNC = (sys.executable, "-c", "from innsync.cli.main import cli; cli()")
# How long a server may take to answer after it starts (imports and migrations included).
START_TIMEOUT_SECONDS = 60.0
# How long a server may take to shut down after SIGTERM before it is killed.
STOP_TIMEOUT_SECONDS = 15.0


class ServerStartError(RuntimeError):
    """A child server exited or did not answer in time; the message ends with its log."""


def child_env(extra: Mapping[str, str]) -> dict[str, str]:
    """This process's environment without any ``INNSYNC_*`` setting, plus ``extra``.

    The demo must run on its own fresh SQLite file whatever the shell has configured. It runs
    in development mode: its channels are simulators on this machine (loopback), which the
    outbound policy refuses otherwise.
    """
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("INNSYNC_")}
    return {**inherited, "INNSYNC_DEVELOPMENT_MODE": "true", **extra}


@contextmanager
def running(
    command: Sequence[str], log: Path, env: Mapping[str, str], ready_url: str
) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``command`` with output to ``log``, wait until ``ready_url`` answers; stop it after."""
    with log.open("ab") as output:
        process = subprocess.Popen(  # noqa: S603  (this interpreter and our own arguments)
            list(command),
            stdout=output,
            stderr=subprocess.STDOUT,
            env=dict(env),
            start_new_session=True,
        )
        try:
            wait_until_answering(ready_url, process, log)
            yield process
        finally:
            stop(process)


def wait_until_answering(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerStartError(f"{url}: exited with {process.returncode}\n{tail(log)}")
        # Not listening yet: a refused connection is the expected answer until it is.
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        time.sleep(0.2)
    raise ServerStartError(
        f"{url} did not answer within {START_TIMEOUT_SECONDS:.0f} s\n{tail(log)}"
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if it is still running after the grace period; only this child."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT_SECONDS)


def tail(log: Path, size: int = 3000) -> str:
    return log.read_text(errors="replace")[-size:] if log.exists() else "(no log)"

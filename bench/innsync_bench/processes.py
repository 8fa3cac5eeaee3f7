"""Real processes on loopback for the benchmarks: innsync, workers, simulators, load generators."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

# The CLI's entry point, run by the interpreter of this process (no installed script needed).
INNSYNC = (sys.executable, "-c", "from innsync.cli.main import cli; cli()")
# How long a server may take to start listening (imports and migrations included; several
# spawned `serve --workers` processes import at once, slowly on a busy machine).
START_TIMEOUT_SECONDS = 180.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until_answering(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Poll ``url`` until it answers; fail with the process's log if it exits or times out."""
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with {process.returncode}: {_tail(log)}")
        try:
            httpx.get(url, timeout=1.0)
        except httpx.TransportError:
            time.sleep(0.1)
            continue
        return
    raise RuntimeError(f"{url} did not answer within {START_TIMEOUT_SECONDS} s: {_tail(log)}")


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"


def peak_rss_bytes(pid: int) -> int:
    """The process's peak resident set (VmHWM), read from /proc; 0 where /proc is missing."""
    status = Path(f"/proc/{pid}/status")
    if not status.exists():
        return 0
    for line in status.read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far, from /proc (0 where /proc is missing)."""
    stat = Path(f"/proc/{pid}/stat")
    if not stat.exists():
        return 0.0
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU time every core of the machine has spent busy so far (all processes, the kernel's
    work included), from /proc/stat (0 where it is missing)."""
    stat = Path("/proc/stat")
    if not stat.exists():
        return 0.0
    fields = [int(value) for value in stat.read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")  # guest time is in user's


def children(pid: int) -> list[int]:
    """The process's direct children, from /proc (empty where /proc is missing)."""
    listed = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in listed.read_text().split()] if listed.exists() else []


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of a process and all its descendants still running (``serve --workers``)."""
    return cpu_seconds(pid) + sum(tree_cpu_seconds(child) for child in children(pid))


@contextmanager
def running(
    command: Sequence[str],
    log: Path,
    *,
    env: Mapping[str, str] | None = None,
    ready_url: str | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``command`` (output to ``log``), wait for ``ready_url``, stop it at the end."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603  (our own interpreter and arguments)
            list(command),
            stdout=output,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
        try:
            if ready_url is not None:
                wait_until_answering(ready_url, process, log)
            yield process
        finally:
            stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 10 s; only this process, by its id."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def innsync_env(database_url: str, secret_key: str, **extra: str) -> dict[str, str]:
    """The environment of an innsync process: its database, key, quiet logs, and development
    mode, since the benchmarks' channels are simulators on loopback."""
    return {
        "INNSYNC_DATABASE_URL": database_url,
        "INNSYNC_SECRET_KEYS": secret_key,
        "INNSYNC_LOG_LEVEL": "WARNING",
        "INNSYNC_DEVELOPMENT_MODE": "true",
        **{f"INNSYNC_{name.upper()}": value for name, value in extra.items()},
    }

"""Where a process spends its time: py-spy samples it, the stacks are summarised in a few lines.

py-spy is a development dependency (``uv sync`` installs it). When it is missing, or the system
does not let it attach (ptrace), the summary says so instead of failing the benchmark.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

# A frame on at least this share of the samples is an outer loop and left out of the summary.
OUTER_SHARE = 0.8


def py_spy() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


def start(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes] | None:
    """Start sampling ``pid`` (and its threads) for ``seconds``; None without py-spy."""
    tool = py_spy()
    if tool is None:
        return None
    return subprocess.Popen(  # noqa: S603  (our own arguments)
        [
            tool,
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(max(1, round(seconds))),
            "--format",
            "raw",
            "--rate",
            "200",
            # Only the thread holding the GIL: what the process spends CPU on in Python. Without
            # it, every idle pool thread's wait would be counted as a sample.
            "--gil",
            "--nonblocking",
            "--output",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def summarise(
    sampler: subprocess.Popen[bytes] | None, out: Path, *, top: int = 8, focus: str = ""
) -> list[str]:
    """The functions most often running Python code (leaf frames, GIL holder only) and, when
    ``focus`` is given, that package's frames taking the most time including callees, each as
    a share of the samples."""
    if sampler is None:
        return ["not profiled: py-spy is not installed (uv sync installs it)"]
    _, errors = sampler.communicate(timeout=600)
    if sampler.returncode != 0 or not out.exists():
        return [f"not profiled: py-spy failed: {errors.decode(errors='replace')[-300:]}"]
    leaves: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in out.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        leaves[_short(frames[-1])] += count
        for frame in {_short(frame) for frame in frames if focus and focus in frame}:
            inclusive[frame] += count
    if not total:
        return ["not profiled: no samples"]
    lines = [
        "holding the GIL (self): "
        + ", ".join(f"{name} {100 * n / total:.0f}%" for name, n in leaves.most_common(top))
    ]
    if focus:
        # Frames on nearly every stack are the loops the work runs in, not where it goes.
        inner = [(name, n) for name, n in inclusive.most_common() if n < OUTER_SHARE * total]
        lines.append(
            f"{focus} frames (including callees): "
            + ", ".join(f"{name} {100 * n / total:.0f}%" for name, n in inner[:top])
        )
    return lines


def _short(frame: str) -> str:
    """``function (path/to/module.py:12)`` -> ``function (module.py)``."""
    name, _, where = frame.partition(" (")
    module = where.rsplit("/", 1)[-1].split(":", 1)[0]
    return f"{name} ({module})" if module else name

"""Load from ``wrk`` (compiled, so not the bottleneck): unique webhook bodies.

A Lua script makes every body unique (thread and sequence number in the booking id, the
revision id and the guest's email), counts the answers ``200 {"status": "stored"}`` per thread
and prints one JSON line at the end with those counts and wrk's latency percentiles. Closed
loop (as fast as the answers come) by default. With a rate, open loop: each wrk thread sends
at the instants of a Poisson process of its share of the rate (exponential gaps, drawn ahead
on the monotonic clock, so an answer's latency does not delay the next call), on whichever of
its connections is free; independent channels' webhooks arrive so, not in step.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from innsync_bench.webhook_load import SECRET_HEADER, revision_body

SEQUENCE = "__SEQ__"
THREADS = 2
_SCRIPT = """
local threads = {}
local template = [==[%(template)s]==]
function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end
function init(args)
  counter = 0
  stored = 0
  other = 0
  wrk.method = "POST"
  wrk.headers["content-type"] = "application/json"
  wrk.headers["%(header)s"] = "%(secret)s"
end
function request()
  counter = counter + 1
  local body = string.gsub(template, "%(sequence)s", tid .. "-" .. counter)
  return wrk.format(nil, nil, nil, body)
end
%(pacing)s
function response(status, headers, body)
  if status == 200 and string.find(body, '"stored"', 1, true) then
    stored = stored + 1
  else
    other = other + 1
    if first_other == nil then first_other = status end
  end
end
function done(summary, latency, requests)
  local s, o, f = 0, 0, 0
  for _, thread in ipairs(threads) do
    s = s + thread:get("stored")
    o = o + thread:get("other")
    f = thread:get("first_other") or f
  end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"stored": %%d, "other": %%d, "requests": %%d, "duration_us": %%d, ' ..
    '"p50_us": %%d, "p99_us": %%d, "socket_errors": %%d, "a_failed_status": %%d}\\n',
    s, o, summary.requests, summary.duration, latency:percentile(50),
    latency:percentile(99), e.connect + e.read + e.write + e.timeout, f))
end
"""


# Open-loop pacing: wrk calls ``delay()`` before each request after a connection's first; the
# wait is until the thread's next arrival, whose gap from the one before is exponential.
_PACING = """
local ffi = require("ffi")
ffi.cdef[[ typedef struct { long tv_sec; long tv_nsec; } pace_timespec;
           int clock_gettime(int clock, pace_timespec *now); ]]
local clock = ffi.new("pace_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, clock)  -- CLOCK_MONOTONIC
  return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_nsec) / 1e6
end
local next_at = nil
function delay()
  local now = now_ms()
  if next_at == nil then
    math.randomseed(1 + 7919 * tid)  -- each thread its own arrivals, not the same in step
    next_at = now
  end
  next_at = next_at - %(gap_ms).6f * math.log(1 - math.random())
  return math.max(0, next_at - now)
end
"""


def available() -> bool:
    return shutil.which("wrk") is not None


def run(
    url: str,
    secret: str,
    seconds: float,
    connections: int,
    run_id: str,
    workdir: Path,
    rate: float = 0.0,
) -> dict[str, Any]:
    """One wrk run against ``url``; its figures (rates per second, latencies in seconds).

    ``rate`` > 0 paces it at about that many requests per second in all."""
    template = (
        revision_body(0, run_id).decode().replace(f"BENCH-{run_id}-0", f"BENCH-{run_id}-{SEQUENCE}")
    )
    template = template.replace("ada+0@", f"ada+{SEQUENCE}@")
    script = workdir / f"wrk-{run_id}.lua"
    pacing = _PACING % {"gap_ms": 1000 * THREADS / rate} if rate > 0 else ""
    script.write_text(
        _SCRIPT
        % {
            "template": template,
            "header": SECRET_HEADER,
            "secret": secret,
            "sequence": SEQUENCE,
            "pacing": pacing,
        }
    )
    finished = subprocess.run(  # noqa: S603  (wrk, our own arguments)
        [
            shutil.which("wrk") or "wrk",
            f"-t{THREADS}",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "30s",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    line = next(row for row in finished.stdout.splitlines() if row.startswith("WRKJSON "))
    raw = json.loads(line.removeprefix("WRKJSON "))
    seconds_run = raw["duration_us"] / 1e6
    return {
        "seconds": seconds_run,
        "acked": raw["stored"],
        "per_second": raw["stored"] / seconds_run,
        "requests": raw["requests"],
        "p50": raw["p50_us"] / 1e6,
        "p99": raw["p99_us"] / 1e6,
        "failures": raw["other"] + raw["socket_errors"],
        "socket_errors": raw["socket_errors"],
        "a_failed_status": raw["a_failed_status"],
    }

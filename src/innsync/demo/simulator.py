"""The demo's Channex simulator process: ``python -m innsync.demo.simulator --port N``.

It is ``innsync simulate channex`` with a request log long enough for a long demo: the demo
counts ARI calls and 429s from that log, so it must not drop entries while the demo runs.
"""

from __future__ import annotations

import argparse

import uvicorn

from innsync.simulators.channex import SimulatorConfig, create_app

API_KEY = "demo-channex-key"
# About 20 requests a second for 2 hours; each entry is a few hundred bytes.
REQUEST_LOG_SIZE = 150_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    config = SimulatorConfig(api_keys=(API_KEY,), seed=args.seed, request_log_size=REQUEST_LOG_SIZE)
    uvicorn.run(create_app(config), host="127.0.0.1", port=args.port, access_log=False)


if __name__ == "__main__":
    main()

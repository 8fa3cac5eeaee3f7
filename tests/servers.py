"""Running an innsync app on a real loopback port inside the test process."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

from innsync.api.server import server_config
from innsync.settings import Settings


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def serving(
    app: FastAPI, settings: Settings | None = None, parser: str | None = None
) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 until the block ends; yields the base URL. With ``settings``,
    the server is configured as ``innsync serve`` configures it (time limits, connection cap;
    ``parser`` chooses its HTTP parser, by default the one ``innsync serve`` uses)."""
    port = free_port()
    if settings is not None:
        config = server_config(app, settings, "127.0.0.1", port, parser)
        config.lifespan = "on"
    else:
        config = uvicorn.Config(
            app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="on"
        )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)

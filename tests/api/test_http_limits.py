"""Size and time limits of requests, on a real server over raw sockets (issue #19, items 2, 3).

The server is configured as ``innsync serve`` configures it (``api.server.server_config``), so
what is tested is what runs, with each HTTP parser it can run on (httptools, the one it uses
where installed, and h11, its fallback): a chunked body is refused while it streams, a slow
body gets 408, slow headers and idle connections are closed, and past the connection cap
requests get 503.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from innsync.api.app import create_app
from innsync.api.server import HTTP_PARSER
from innsync.crypto import SecretBox
from innsync.db.engine import build_engine
from innsync.db.migrate import upgrade
from innsync.settings import Settings
from tests.servers import serving

LIMIT = 64 * 1024
# Generous: a test waits this long for an answer that should come well before.
PATIENCE = 15.0
# The parser ``innsync serve`` uses, and the fallback where httptools cannot be installed.
PARSERS = sorted({HTTP_PARSER, "h11"})


@pytest.fixture(scope="module", params=PARSERS)
def parser(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@contextmanager
def _serve(
    tmp: Path, secret_box: SecretBox, parser: str, **limits: object
) -> Iterator[tuple[str, int]]:
    settings = Settings(
        database_url=f"sqlite:///{tmp / 'limits.sqlite3'}",
        background_loops=False,
        max_request_bytes=LIMIT,
        **limits,  # type: ignore[arg-type]
    )
    engine = build_engine(settings.database_url)
    upgrade(engine)
    app = create_app(settings, engine=engine, secret_box=secret_box, run_loops=False)
    try:
        with serving(app, settings, parser) as url:
            host, port = url.removeprefix("http://").split(":")
            yield host, int(port)
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, secret_box: SecretBox, parser: str
) -> Iterator[tuple[str, int]]:
    with _serve(
        tmp_path_factory.mktemp("limits"),
        secret_box,
        parser,
        http_body_timeout_seconds=1.0,
        http_header_timeout_seconds=1.0,
        http_uploads_per_address=3,
    ) as address:
        yield address


def _connect(address: tuple[str, int], source: str = "127.0.0.1") -> socket.socket:
    sock = socket.create_connection(address, timeout=PATIENCE, source_address=(source, 0))
    sock.settimeout(PATIENCE)
    return sock


def _read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def _head(answer: bytes) -> tuple[str, dict[str, str]]:
    head = answer.split(b"\r\n\r\n", 1)[0].decode()
    status, *lines = head.split("\r\n")
    fields = dict(line.lower().split(": ", 1) for line in lines)
    return status, fields


def test_a_chunked_upload_is_refused_while_it_streams(server: tuple[str, int]) -> None:
    with _connect(server) as sock:
        sock.sendall(b"POST /hooks/abc HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"x" * 16384
        for _ in range(LIMIT // len(chunk) + 1):  # one chunk past the limit, never the end
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        answer = _read_all(sock)  # answered and closed although the body never ended
    status, fields = _head(answer)
    assert status == "HTTP/1.1 413 Request Entity Too Large"
    assert fields["connection"] == "close"
    assert fields["content-type"] == "application/problem+json"
    assert b"bodies are limited to 65536 bytes" in answer


def test_a_declared_length_over_the_limit_is_refused_before_the_body(
    server: tuple[str, int],
) -> None:
    with _connect(server) as sock:
        sock.sendall(
            b"POST /api/v1/properties HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n"
        )
        answer = _read_all(sock)
    status, fields = _head(answer)
    assert status == "HTTP/1.1 413 Request Entity Too Large"
    assert fields["connection"] == "close"


def test_a_slow_body_gets_408_and_is_closed(server: tuple[str, int]) -> None:
    with _connect(server) as sock:
        sock.sendall(b"POST /hooks/abc HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nx")
        answer = _read_all(sock)  # the other 99 bytes never come
    status, fields = _head(answer)
    assert status == "HTTP/1.1 408 Request Timeout"
    assert fields["connection"] == "close"
    assert b"must arrive within 1 seconds" in answer


def test_slow_headers_and_idle_connections_are_closed(server: tuple[str, int]) -> None:
    with _connect(server) as slow, _connect(server) as idle:
        slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # the blank line never comes
        assert _read_all(slow) == b""  # closed without an answer
        assert _read_all(idle) == b""


def test_slow_headers_of_a_later_request_on_a_connection_are_closed(
    server: tuple[str, int],
) -> None:
    with _connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = b""
        while not answer.endswith(b'{"status":"ok"}'):
            answer += sock.recv(65536)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # the blank line never comes
        assert _read_all(sock) == b""  # closed without a second answer


def test_keep_alive_requests_still_work(server: tuple[str, int]) -> None:
    with _connect(server) as sock:
        for _ in range(2):  # the header time-out starts again after each answer
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = b""
            while not answer.endswith(b'{"status":"ok"}'):
                answer += sock.recv(65536)
            status, fields = _head(answer)
            assert status == "HTTP/1.1 200 OK"
            assert "connection" not in fields
        sock.sendall(b"POST /hooks/abc HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
        answer = sock.recv(65536)
        assert _head(answer)[0] == "HTTP/1.1 404 Not Found"  # read whole, then answered


def test_one_address_cannot_hold_more_than_its_connections(
    tmp_path: Path, secret_box: SecretBox, parser: str
) -> None:
    with ExitStack() as stack:
        address = stack.enter_context(
            _serve(tmp_path, secret_box, parser, http_connections_per_address=2)
        )
        held = [stack.enter_context(_connect(address)) for _ in range(2)]
        third = stack.enter_context(_connect(address))
        try:
            third.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            dropped = _read_all(third)
        except ConnectionResetError:
            dropped = b""
        assert dropped == b""  # dropped without an answer
        # Another address is served, and so is the first once it lets a connection go.
        other = stack.enter_context(_connect(address, source="127.0.0.2"))
        other.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert _head(_read_all(other))[0] == "HTTP/1.1 200 OK"
        held.pop().close()
        assert _answered_soon(address) == "HTTP/1.1 200 OK"


def _answered_soon(address: tuple[str, int]) -> str:
    """The status of a /healthz call, tried again while the server has not yet seen an earlier
    connection of the same address close (it learns that from the event loop)."""
    for _ in range(100):
        with _connect(address) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            try:
                answer = _read_all(sock)
            except ConnectionResetError:
                answer = b""
        if answer:
            return _head(answer)[0]
        time.sleep(0.05)
    return "never answered"


def test_past_the_connection_cap_requests_get_503(
    tmp_path: Path, secret_box: SecretBox, parser: str
) -> None:
    with ExitStack() as stack:
        address = stack.enter_context(_serve(tmp_path, secret_box, parser, http_max_concurrency=4))
        held = [stack.enter_context(_connect(address)) for _ in range(4)]
        probe = stack.enter_context(_connect(address))
        probe.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = _read_all(probe)
        assert _head(answer)[0] == "HTTP/1.1 503 Service Unavailable"
        for sock in held:
            sock.close()


def test_stalled_uploads_from_one_address_are_capped(server: tuple[str, int]) -> None:
    stalled = b"POST /hooks/abc HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nx"
    with ExitStack() as stack:
        held = [stack.enter_context(_connect(server)) for _ in range(3)]
        for sock in held:
            sock.sendall(stalled)
        _wait_for_a_request(server)  # the three are in the app before the fourth comes
        with _connect(server) as fourth:
            fourth.sendall(stalled)
            answer = _read_all(fourth)
        status, fields = _head(answer)
        assert status == "HTTP/1.1 429 Too Many Requests"
        assert (fields["connection"], fields["retry-after"]) == ("close", "1")
        with _connect(server) as probe:  # requests without a body are not held up
            probe.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert _head(_read_all(probe))[0] == "HTTP/1.1 200 OK"
        statuses = [_head(_read_all(sock))[0] for sock in held]
    assert statuses == ["HTTP/1.1 408 Request Timeout"] * 3


def _wait_for_a_request(server: tuple[str, int], source: str = "127.0.0.1") -> None:
    """One full request/answer on a new connection: the server has read what came before."""
    with _connect(server, source) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        _read_all(sock)


def test_an_aborted_upload_is_one_log_line_without_a_traceback(
    server: tuple[str, int], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    with _connect(server) as sock:
        sock.sendall(
            b"POST /hooks/secret-token HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nx"
        )
    _wait_for_a_request(server)  # the server has gone on to another request
    for _ in range(100):  # the server thread logs when its event loop sees the close
        gone = [r for r in caplog.records if r.getMessage().startswith("client disconnected")]
        if gone:
            break
        time.sleep(0.05)
    assert len(gone) == 1
    assert gone[0].path == "/hooks/[redacted]"  # type: ignore[attr-defined]
    assert [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR] == []
    assert "secret-token" not in caplog.text


def test_webhook_uploads_and_other_uploads_share_one_budget(server: tuple[str, int]) -> None:
    """The webhook fast path has a body guard of its own (api.webhook_path): same count."""
    source = "127.0.0.3"  # an address of its own: other tests' uploads do not count here
    stalled = b"POST /hooks/abc HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nx"
    with ExitStack() as stack:
        held = [stack.enter_context(_connect(server, source)) for _ in range(3)]
        for sock in held:
            sock.sendall(stalled)
        _wait_for_a_request(server, source)
        with _connect(server, source) as fourth:
            fourth.sendall(
                b"POST /api/v1/properties HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nx"
            )
            status, _ = _head(_read_all(fourth))
        assert status == "HTTP/1.1 429 Too Many Requests"
        statuses = [_head(_read_all(sock))[0] for sock in held]
    assert statuses == ["HTTP/1.1 408 Request Timeout"] * 3

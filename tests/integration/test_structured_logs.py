"""Structured logs: the unit of work's ids are on every line, JSON carries no ANSI escapes, and
the standard library's ``logging`` calls of the code base go through the same pipeline."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from typing import Annotated, Any

import pytest
from fastapi import Depends
from fastapi.testclient import TestClient
from pydantic import SecretStr

from innsync.api.deps import get_principal
from innsync.api.log_context import HEADER
from innsync.channels.fake import FakeChannel, FakeChannelConfig
from innsync.crypto import SecretBox
from innsync.inbox import reconciler
from innsync.logging import REDACTED, ConsoleFormatter, JsonFormatter, configure_logging
from innsync.tenants.service import Principal
from tests.api.helpers import new_tenant
from tests.conftest import Db
from tests.inbound.builders import SECRET, Processing, make_hotel
from tests.sync.engine_fixtures import Clock

ESC = "\x1b"


class Captured:
    """Lines written by a handler with innsync's formatter, on the root logger."""

    def __init__(self, formatter: logging.Formatter) -> None:
        self.stream = io.StringIO()
        self.handler = logging.StreamHandler(self.stream)
        self.handler.setFormatter(formatter)

    def text(self) -> str:
        return self.stream.getvalue()

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.text().splitlines()]

    def with_msg(self, msg: str) -> list[dict[str, Any]]:
        return [line for line in self.lines() if line["msg"] == msg]


@pytest.fixture
def captured() -> Iterator[Captured]:
    capture = Captured(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(capture.handler)
    root.setLevel(logging.INFO)
    yield capture
    root.removeHandler(capture.handler)
    root.setLevel(level)


def test_a_request_s_lines_carry_its_request_id_and_tenant(
    client: TestClient, db: Db, captured: Captured
) -> None:
    caller = new_tenant(db.sessions)
    app: Any = client.app

    @app.get("/log-probe")
    async def probe(who: Annotated[Principal, Depends(get_principal)]) -> dict[str, str]:
        logging.getLogger("innsync.test").info("probe answered")
        return {"tenant": str(who.tenant_id)}

    answer = client.get("/log-probe", headers=caller.headers)
    assert answer.status_code == 200
    request_id = answer.headers[HEADER]
    (line,) = captured.with_msg("probe answered")
    assert line["request_id"] == request_id
    assert line["tenant_id"] == answer.json()["tenant"]

    # A caller's own id is kept when it is a plain token; anything else is replaced.
    given = client.get("/log-probe", headers={**caller.headers, HEADER: "pms-42.a_b"})
    assert given.headers[HEADER] == "pms-42.a_b"
    forged = client.get("/log-probe", headers={**caller.headers, HEADER: "x\ny tenant_id=evil"})
    assert forged.headers[HEADER] != "x\ny tenant_id=evil"
    ids = [line["request_id"] for line in captured.with_msg("probe answered")]
    assert ids == [request_id, "pms-42.a_b", forged.headers[HEADER]]
    # The bindings die with their request: a line logged outside any has none.
    logging.getLogger("innsync.test").info("outside")
    (outside,) = captured.with_msg("outside")
    assert "request_id" not in outside
    assert "tenant_id" not in outside


def test_a_webhook_call_s_lines_carry_its_request_id(
    client: TestClient, captured: Captured
) -> None:
    """``POST /hooks/{token}`` is served by the fast path (``api.webhook_path``), which binds
    the id itself."""
    answers = [
        client.post("/hooks/no-such-token", content=b"{}", headers=sent)
        for sent in ({}, {HEADER: "pms-7"})
    ]
    assert [answer.status_code for answer in answers] == [404, 404]
    ids = [line["request_id"] for line in captured.with_msg("webhook call refused")]
    assert ids == [answers[0].headers[HEADER], "pms-7"]
    logging.getLogger("innsync.test").info("outside")
    (outside,) = captured.with_msg("outside")
    assert "request_id" not in outside


def test_a_loop_pass_s_lines_carry_its_connection(
    db: Db, secret_box: SecretBox, captured: Captured
) -> None:
    with db.sessions() as session:
        hotel = make_hotel(session, secret_box, connections=2)
        session.commit()
    channel = FakeChannel(FakeChannelConfig(webhook_secret=SecretStr(SECRET)))
    processing = Processing(db.sessions, secret_box, adapter=channel)
    channel.fail_next(2, "unavailable")  # both connections' turns fail, each logs once

    taken = asyncio.run(reconciler.pull_due(db.sessions, processing.adapter_for, clock=Clock()))

    assert taken == 2
    lines = captured.with_msg("pulling booking revisions failed")
    assert sorted(line["connection_id"] for line in lines) == sorted(map(str, hotel.connections))
    for line in lines:
        # Only the bound context names the tenant and the property: the call passes neither.
        assert (line["tenant_id"], line["property_id"]) == (
            str(hotel.tenant_id),
            str(hotel.property_id),
        )
    logging.getLogger("innsync.test").info("after the pass")
    assert "connection_id" not in captured.with_msg("after the pass")[0]


def test_json_lines_hold_no_ansi_escapes_and_stay_redacted(captured: Captured) -> None:
    logger = logging.getLogger("innsync.test")
    try:
        raise ValueError(f"{ESC}[31mred{ESC}[0m for ada@example.com")
    except ValueError:
        logger.exception(
            "colour %s in a message",
            f"{ESC}[1mbold",
            extra={"note": f"{ESC}[32mgreen", "api_key": "isk_abc_secret"},
        )
    text = captured.text()
    assert ESC not in text
    (line,) = captured.lines()
    assert line["msg"] == f"colour {ESC}[1mbold in a message"  # escaped in JSON, kept as data
    assert line["note"] == f"{ESC}[32mgreen"
    assert line["api_key"] == REDACTED
    assert "ada@example.com" not in text
    assert "ValueError" in line["exc"]
    assert line["level"] == "error"
    assert list(line)[:4] == ["ts", "level", "logger", "msg"]


def test_console_lines_are_plain_off_a_terminal() -> None:
    capture = Captured(ConsoleFormatter(colors=False))
    record = logging.LogRecord("innsync.test", logging.WARNING, __file__, 1, "hello", (), None)
    record.token = "abc"
    capture.handler.emit(record)
    text = capture.text()
    assert ESC not in text
    assert "hello" in text
    assert f"token={REDACTED}" in text


def test_configure_logging_writes_json_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        configure_logging("INFO", as_json=True)
        logging.getLogger("innsync.test").warning("configured", extra={"n": 1})
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert (line["msg"], line["level"], line["n"]) == ("configured", "warning", 1)

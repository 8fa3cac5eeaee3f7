"""Logs never carry secrets or guest personal data."""

from __future__ import annotations

import json
import logging

from innsync.logging import REDACTED, JsonFormatter, redact


def test_sensitive_keys_and_secret_looking_text_are_redacted() -> None:
    record = logging.LogRecord(
        "innsync.test", logging.INFO, __file__, 1, "key %s", ("isk_abc_def",), None
    )
    record.guest = {"first_name": "Ada", "email": "ada@example.com"}
    record.headers = {"Authorization": "Bearer isk_abc_secret", "Content-Type": "application/json"}
    record.note = "mail ada@example.com please"
    line = json.loads(JsonFormatter().format(record))
    assert line["msg"] == f"key {REDACTED}"
    assert line["guest"] == REDACTED
    assert line["headers"] == {"Authorization": REDACTED, "Content-Type": "application/json"}
    assert line["note"] == f"mail {REDACTED} please"
    assert "ada@example.com" not in json.dumps(line)


def test_nested_structures_keep_their_shape() -> None:
    value = {"rooms": [{"code": "DBL", "client_secret": "x"}], "count": 2}
    assert redact(value) == {"rooms": [{"code": "DBL", "client_secret": REDACTED}], "count": 2}

"""Structured logs (structlog over the standard library's ``logging``), with secrets and guest
personal data redacted before they are written.

Every ``logging.getLogger(__name__)`` call of the code base goes through the same processors as
a structlog logger: the context bound for the current unit of work (``log_context``: the API's
request id and tenant, a loop pass's tenant, property and connection) is merged into each line,
the ``extra`` fields are kept, and one renderer writes the line: JSON (one object per line; no
ANSI codes, escapes included) or, for a terminal, key=value console lines.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

import structlog
from structlog.contextvars import bound_contextvars, merge_contextvars
from structlog.stdlib import ExtraAdder, ProcessorFormatter
from structlog.typing import Processor

REDACTED = "[redacted]"

# Keys whose values are secrets or guest personal data; matched case-insensitively as substrings.
SENSITIVE_KEY_PARTS = (
    "password",
    "secret",
    "token",
    "api_key",
    "apikey",
    "authorization",
    "credential",
    "email",
    "phone",
    "guest",
    "first_name",
    "last_name",
    "card",
)
# Values that look like bearer tokens or innsync keys are scrubbed even inside free text.
_SECRET_PATTERN = re.compile(r"(Bearer\s+)\S+|isk_[A-Za-z0-9_\-]+", re.IGNORECASE)
_EMAIL_PATTERN = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
# Keys innsync itself writes first in every line; never redacted (they hold no caller data).
_LEADING_KEYS = ("ts", "level", "logger", "msg")


def is_sensitive_key(key: str) -> bool:
    lowered = key.lower()
    return any(part in lowered for part in SENSITIVE_KEY_PARTS)


def redact(value: Any, key: str = "") -> Any:
    """A copy of ``value`` with sensitive keys and secret-looking text replaced."""
    if key and is_sensitive_key(key):
        return REDACTED
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


def redact_text(text: str) -> str:
    text = _SECRET_PATTERN.sub(lambda m: (m.group(1) or "") + REDACTED, text)
    return _EMAIL_PATTERN.sub(REDACTED, text)


@contextmanager
def log_context(**ids: object) -> Iterator[None]:
    """Bind ids (``tenant_id``, ``property_id``, ``connection_id``…) to every log line written
    inside the block, in this thread or task only; ``None`` values are left out."""
    with bound_contextvars(**{key: str(value) for key, value in ids.items() if value is not None}):
        yield


def bind_log_context(**ids: object) -> None:
    """Bind ids for the rest of the current unit of work (the API request's task)."""
    structlog.contextvars.bind_contextvars(
        **{key: str(value) for key, value in ids.items() if value is not None}
    )


def _redact_and_order(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """innsync's keys first, then the context and extra fields, every value redacted."""
    event["msg"] = redact_text(str(event.pop("event", "")))
    if "exception" in event:
        event["exc"] = redact_text(str(event.pop("exception")))
    ordered: dict[str, Any] = {key: event.pop(key) for key in _LEADING_KEYS if key in event}
    ordered.update({key: redact(value, key) for key, value in event.items()})
    return ordered


# Run on every line, whether it came from ``logging`` or from structlog.
_SHARED: list[Processor] = [
    merge_contextvars,
    structlog.stdlib.add_logger_name,
    structlog.stdlib.add_log_level,
    structlog.processors.TimeStamper(fmt="iso", utc=True, key="ts"),
]
# Only on lines from ``logging``: their ``extra={...}`` fields become keys of the line.
_FOREIGN: list[Processor] = [*_SHARED, ExtraAdder()]


class JsonFormatter(ProcessorFormatter):
    """One JSON object per line: ``ts``, ``level``, ``logger``, ``msg``, the bound context and
    extra fields, ``exc``; all redacted. ``json.dumps`` escapes control characters, so a value
    holding an ANSI escape is written as ``\\u001b``, never as the raw byte."""

    def __init__(self) -> None:
        super().__init__(
            foreign_pre_chain=_FOREIGN,
            processors=[
                ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                _redact_and_order,
                structlog.processors.JSONRenderer(default=str),
            ],
        )


class ConsoleFormatter(ProcessorFormatter):
    """Human-readable key=value lines, with the same redaction; colours only on a terminal."""

    def __init__(self, colors: bool = False) -> None:
        super().__init__(
            foreign_pre_chain=_FOREIGN,
            processors=[
                ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                _redact_and_order,
                _console_event,
                structlog.dev.ConsoleRenderer(colors=colors, event_key="msg", timestamp_key="ts"),
            ],
        )


def _console_event(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    # ConsoleRenderer prints ``exception`` as a traceback block after the line.
    if "exc" in event:
        event["exception"] = event.pop("exc")
    return event


def configure_logging(level: str = "INFO", *, as_json: bool = True) -> None:
    """One handler on the root logger, writing to stderr; structlog loggers go through it."""
    stream = sys.stderr
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if as_json else ConsoleFormatter(stream.isatty()))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    structlog.configure(
        processors=[*_SHARED, ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )

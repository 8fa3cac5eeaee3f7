"""The request log every simulator keeps: what a client sent, whole, with its secrets masked.

``GET /_sim/requests`` lists it; with ``?bodies=1`` each row also carries the query, the
headers and the body, so a test can check exactly what an adapter sent. Secrets are masked
before a request is stored, never on the way out: header and JSON-field values whose names say
"key", "token", "secret", "password", "authorization", "signature" or "cookie", and any
occurrence of a value the simulator knows to be secret (its API keys, registered webhook
secrets), wherever it appears.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from starlette.types import Receive

MASK = "***"
SECRET_NAME_PARTS = ("authorization", "key", "token", "secret", "password", "signature", "cookie")
# Bodies above this are kept cut to it (``body_truncated``): a 10 MB full sync in each of 10,000
# log rows would hold 100 GB. Every request an adapter test makes is far smaller.
DEFAULT_LOGGED_BODY_BYTES = 1_000_000


def is_secret_name(name: str) -> bool:
    lowered = name.lower()
    return any(part in lowered for part in SECRET_NAME_PARTS)


@dataclass(frozen=True, slots=True)
class Masker:
    """Masks what a simulator must never show: secret-named fields and known secret values."""

    secret_values: frozenset[str] = frozenset()

    def text(self, value: str) -> str:
        # Longest first, so a secret that contains another is masked whole.
        for secret in sorted(self.secret_values, key=len, reverse=True):
            if secret:
                value = value.replace(secret, MASK)
        return value

    def headers(self, headers: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
        return tuple(
            (name, MASK if is_secret_name(name) else self.text(value)) for name, value in headers
        )

    def body(self, body: bytes) -> str:
        """The body as text, JSON fields with secret names masked, known secrets masked."""
        text = body.decode("utf-8", errors="replace")
        try:
            parsed = json.loads(text)
        except (ValueError, RecursionError):
            return self.text(text)
        return self.text(json.dumps(_masked_json(parsed), separators=(",", ":")))


def _masked_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: MASK if is_secret_name(str(key)) and item is not None else _masked_json(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_masked_json(item) for item in value]
    return value


@dataclass(frozen=True, slots=True)
class LoggedRequest:
    """One API request as received, secrets already masked."""

    method: str
    path: str
    query: str
    headers: tuple[tuple[str, str], ...]
    body: str
    body_bytes: int
    is_body_truncated: bool
    status: int
    at: datetime
    tags: Mapping[str, Any] = field(default_factory=dict)
    """What the simulator adds for its own inspection (Channex: endpoint class, properties)."""

    def row(self, *, with_bodies: bool) -> dict[str, Any]:
        shown: dict[str, Any] = {"method": self.method, "path": self.path, **self.tags}
        shown.update({"body_bytes": self.body_bytes, "status": self.status})
        shown["at"] = self.at.isoformat()
        if with_bodies:
            shown["query"] = self.query
            shown["headers"] = dict(self.headers)
            shown["body"] = self.body
            shown["body_truncated"] = self.is_body_truncated
        return shown


class RequestLog:
    """The newest ``size`` requests, oldest first."""

    def __init__(self, size: int, logged_body_bytes: int = DEFAULT_LOGGED_BODY_BYTES) -> None:
        self._rows: deque[LoggedRequest] = deque(maxlen=size)
        self.logged_body_bytes = logged_body_bytes

    def record(
        self,
        *,
        masker: Masker,
        method: str,
        path: str,
        query: str,
        headers: Iterable[tuple[str, str]],
        body: bytes,
        body_bytes: int,
        status: int,
        at: datetime,
        tags: Mapping[str, Any] | None = None,
    ) -> LoggedRequest:
        kept = body[: self.logged_body_bytes]
        logged = LoggedRequest(
            method=method,
            path=path,
            query=masker.text(query),
            headers=masker.headers(headers),
            body=masker.body(kept),
            body_bytes=body_bytes,
            is_body_truncated=body_bytes > len(kept),
            status=status,
            at=at,
            tags=dict(tags or {}),
        )
        self._rows.append(logged)
        return logged

    def __iter__(self) -> Any:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)

    def rows(self, *, with_bodies: bool) -> list[dict[str, Any]]:
        return [logged.row(with_bodies=with_bodies) for logged in self._rows]


def decoded_headers(raw: Collection[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    """ASGI's raw headers as text (latin-1, as HTTP/1.1 defines them)."""
    return [(name.decode("latin-1"), value.decode("latin-1")) for name, value in raw]


async def drain_body(receive: Receive, cap: int) -> tuple[bytes, int]:
    """Read the whole body; keep at most ``cap + 1`` bytes of it but count all of it."""
    chunks: list[bytes] = []
    kept = size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if kept <= cap:
            chunks.append(chunk[: cap + 1 - kept])
            kept += len(chunks[-1])
        if not message.get("more_body", False):
            break
    return b"".join(chunks), size

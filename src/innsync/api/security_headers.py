"""Security headers on every answer, and ``Cache-Control: no-store`` on the API's answers.

Pure ASGI (no ``BaseHTTPMiddleware``). API answers can carry secrets (a new API key, a
connection's webhook URL, an iCal export's address) and are always one tenant's data, so no
shared cache or browser history may keep them: every ``/api/v1`` and ``/hooks`` answer is
``no-store`` unless its route chose its own ``Cache-Control``.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    # frame-ancestors only: a full policy would break the interactive docs' scripts.
    ("Content-Security-Policy", "frame-ancestors 'none'"),
    ("Referrer-Policy", "no-referrer"),
)
NO_STORE_PREFIXES = ("/api/", "/hooks/")
_ENCODED = [(name.lower().encode(), value.encode()) for name, value in SECURITY_HEADERS]


def loggable_path(path: str) -> str:
    """The path as logs may show it: a webhook URL's token is a credential."""
    return "/hooks/[redacted]" if path.startswith("/hooks/") else path


class SecurityHeaders:
    """Adds the headers above to every HTTP answer that does not set them itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        no_store = scope["path"].startswith(NO_STORE_PREFIXES)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = with_security_headers(message, no_store)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def with_security_headers(start: Message, no_store: bool) -> Message:
    """An ``http.response.start`` message with the headers above added (a new message)."""
    headers = list(start.get("headers", []))
    present = {name.lower() for name, _ in headers}
    headers += [(name, value) for name, value in _ENCODED if name not in present]
    if no_store and b"cache-control" not in present:
        headers.append((b"cache-control", b"no-store"))
    return {**start, "headers": headers}

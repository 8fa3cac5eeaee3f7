"""Reservation pushes from Aiosell (aiosell.md §1.10, §1.11): verified first, then parsed.

Aiosell signs nothing; it calls the PMS URL with HTTP Basic auth (§1.3, 3P), so a push is
trusted only when it presents the user name and password the connection is configured with.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping

from innsync.channels.errors import BadSignatureError

# §1.10: what the PMS answers, with HTTP 200, once the reservation is stored.
WEBHOOK_REPLY: dict[str, object] = {
    "success": True,
    "message": "Reservation Updated Successfully",
}
# The answer to a push stored for audit that cannot be read (not documented; configurable): a
# 4xx, which Aiosell does not retry (§1.10, 3P: it retries on 5xx), so its failure is visible.
UNREADABLE_STATUS = 400


def verify_basic_auth(
    headers: Mapping[str, str], expected_user: str | None, expected_password: str | None
) -> None:
    """Refuse unless the ``Authorization`` header is Basic auth with the configured pair."""
    if expected_password is None:
        raise BadSignatureError("no webhook credentials are configured for this connection")
    presented = next((v for k, v in headers.items() if k.lower() == "authorization"), None)
    if presented is None:
        raise BadSignatureError("the webhook carries no Basic auth")
    scheme, _, token = presented.strip().partition(" ")
    if scheme.lower() != "basic":
        raise BadSignatureError("the webhook's Authorization is not Basic auth")
    try:
        decoded = base64.b64decode(token.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadSignatureError("the webhook's Basic auth is not base64") from exc
    user, colon, password = decoded.partition(b":")
    expected = f"{expected_user or ''}:{expected_password}".encode("utf-8", "surrogateescape")
    if not colon or not hmac.compare_digest(user + b":" + password, expected):
        raise BadSignatureError("the webhook's credentials do not match")

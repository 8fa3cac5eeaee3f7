"""Booking webhooks from Beds24 (beds24.md §2.8): verified first, then parsed.

Beds24 signs nothing. The only authentication it offers is ``customHeader``: header lines it
sends with every booking webhook (§2.8). innsync has the operator set one secret header there
and refuses any webhook that does not present it, compared in constant time, before a byte of
the body is read.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from typing import Any

from innsync.channels.errors import BadSignatureError, ChannelRejectedError

# A booking webhook is one booking with its items; far below this. Bigger is refused unread.
MAX_WEBHOOK_BYTES = 1_000_000


def verify_secret_header(headers: Mapping[str, str], name: str, expected: str | None) -> None:
    """Refuse unless the header ``name`` carries exactly the configured secret."""
    if not expected:
        raise BadSignatureError("no webhook secret is configured for this Beds24 connection")
    wanted = name.lower()
    presented = next((value for key, value in headers.items() if key.lower() == wanted), None)
    if not presented:
        raise BadSignatureError(f"the webhook carries no {name} header")
    if not hmac.compare_digest(presented.strip().encode(), expected.encode()):
        raise BadSignatureError(f"the webhook's {name} header does not match")


def booking_of(body: bytes) -> dict[str, Any]:
    """§2.8 version 2: ``{"timeStamp", "booking": {...}, "infoItems", "invoiceItems", ...}``."""
    if len(body) > MAX_WEBHOOK_BYTES:
        raise ChannelRejectedError("the Beds24 webhook body is too large")
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise ChannelRejectedError("the Beds24 webhook body is not JSON") from exc
    booking = payload.get("booking") if isinstance(payload, dict) else None
    if not isinstance(booking, dict):
        raise ChannelRejectedError("the Beds24 webhook carries no booking object (version 2)")
    return booking


def custom_header_line(name: str, secret: str) -> str:
    """What the operator types into the property's webhook ``customHeader`` (§2.7)."""
    return f"{name}: {secret}"

"""Agoda's BookingHint push (§3.3): checked before it is stored, trusted for nothing but ids.

A hint names a property and the bookings whose status changed. §3.3 documents no signature,
so the check is what the hint can prove: it is readable YCS XML, it names this connection's
property and nothing else, its booking ids are Agoda ids, and (when the connection has one)
it carries the secret innsync gave Agoda [INFERRED]. Its dates and statuses are never used:
the adapter fetches each booking's detail from Agoda and stores what the detail says.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from pydantic import SecretStr

from innsync.channels.errors import BadSignatureError
from innsync.xmlkit.parsing import XmlRefusedError, attribute, children, local_name, parse_xml

# A hint names a handful of bookings; this is generous and keeps a forged body small.
MAX_HINT_BYTES = 256 * 1024


def check_hint_secret(
    headers: Mapping[str, str], secret: SecretStr | None, secret_header: str
) -> None:
    """The hint carries the connection's secret, when it has one (checked on receipt only:
    the inbox stores headers with secrets redacted)."""
    if secret is None:
        return
    sent = {name.lower(): value for name, value in headers.items()}.get(secret_header, "")
    if not hmac.compare_digest(sent.encode(), secret.get_secret_value().encode()):
        raise BadSignatureError("the hint does not carry the connection's hint secret")


def hinted_booking_ids(body: bytes, property_id: str) -> list[str]:
    """The booking ids of a well-formed hint for the property; ``BadSignatureError`` otherwise."""
    try:
        root = parse_xml(body, max_bytes=MAX_HINT_BYTES)
    except XmlRefusedError as exc:
        raise BadSignatureError(f"the hint is not readable XML: {exc}") from exc
    if local_name(root) != "request":
        raise BadSignatureError("the hint is not a YCS <request>")
    properties = list(children(root, "property"))
    named = {attribute(holder, "id") for holder in properties}
    if named != {property_id}:
        raise BadSignatureError("the hint names another property than the connection's")
    ids = [
        attribute(booking, "booking_id") or ""
        for holder in properties
        for bookings in children(holder, "bookings")
        for booking in children(bookings, "booking")
    ]
    if not ids or not all(text.isdigit() and len(text) <= 15 for text in ids):
        raise BadSignatureError("the hint names no valid Agoda booking id")
    return list(dict.fromkeys(ids))

"""§2.5 Octorate's webhooks: the envelope, its signature, and what each event stands for.

``{id, type, reference, createTime, retry, subscription, content, hmac}`` with ``content`` a JSON
*string*. The signature is checked first: an HMAC of ``content`` keyed with the app's client
secret, in the field ``hmac`` (its name, algorithm and key are [UNCONFIRMED], hence settings).
Octorate sends every event of a type to each subscription of the app, so a connection's endpoint
also hears about other hotels: events for another accommodation are recognised and left out.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from pydantic import SecretStr

from innsync.channels.errors import BadSignatureError, ChannelRejectedError
from innsync.channels.octorate.config import OctorateConfig

CALENDAR_EVENT = "PORTAL_SUBSCRIPTION_CALENDAR"
RESERVATION_EVENTS = (
    "RESERVATION_CREATED",
    "RESERVATION_CHANGE",
    "RESERVATION_CANCELLED",
    "RESERVATION_CONFIRMED",
)
_ALGORITHMS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256}


def envelope_of(body: bytes) -> dict[str, Any]:
    """The webhook's JSON envelope, or a refusal naming what is wrong."""
    try:
        envelope = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise ChannelRejectedError("the Octorate webhook is not JSON") from exc
    if not isinstance(envelope, dict) or not isinstance(envelope.get("type"), str):
        raise ChannelRejectedError("the Octorate webhook has no event type")
    return envelope


def verify(config: OctorateConfig, app_secret: SecretStr, body: bytes) -> None:
    """Raise ``BadSignatureError`` unless the envelope's HMAC of ``content`` matches."""
    field = config.webhook_hmac_field
    if field is None:
        # The operator turned the check off (Octorate may not sign); the source addresses are
        # then the only protection, which innsync cannot check here.
        return
    try:
        envelope = envelope_of(body)
    except ChannelRejectedError as exc:
        raise BadSignatureError(str(exc)) from exc
    content, presented = envelope.get("content"), envelope.get(field)
    if not isinstance(content, str) or not isinstance(presented, str):
        raise BadSignatureError("the Octorate webhook carries no signature")
    digest = _ALGORITHMS[config.webhook_hmac_algorithm]
    expected = hmac.new(
        app_secret.get_secret_value().encode(), content.encode(), digest
    ).hexdigest()
    if not hmac.compare_digest(expected.encode(), presented.lower().encode()):
        raise BadSignatureError("the Octorate webhook's signature does not match")


def accommodation_of_reservation(content: Mapping[str, Any]) -> int | None:
    """The accommodation a reservation event's content is for."""
    held = content.get("accommodation")
    value = held.get("id") if isinstance(held, dict) else content.get("accommodationId")
    try:
        return int(value) if value is not None and not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None

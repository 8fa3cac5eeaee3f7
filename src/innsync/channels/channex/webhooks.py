"""Channex webhooks (channex.md §1.7): verified first, then read as a trigger or a notice.

Channex signs nothing: innsync registers its subscriptions with a secret header, and a call
without it is refused before its body is read. The ``booking`` event only names a revision,
which the adapter then fetches; health and lifecycle events become ``ChannelNotice``\\ s.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from innsync.channels.channex.bookings import brief
from innsync.channels.errors import BadSignatureError, ChannelRejectedError
from innsync.channels.types import ChannelNotice, NoticeKind, OtaChannel, OtaState

# The header innsync asks Channex to send with every webhook (§1.7 `headers`), holding the
# connection's webhook secret. Not a secret itself.
SECRET_HEADER = "x-innsync-webhook-secret"  # noqa: S105
# §1.7: the events innsync subscribes to, one subscription each (multi-event masks are
# unconfirmed, PART 3 #2). `booking` fires for every revision; the per-status events would
# only repeat it.
SUBSCRIBED_EVENTS = (
    "booking",
    "booking_unmapped_room",
    "booking_unmapped_rate",
    "non_acked_booking",
    "sync_error",
    "sync_warning",
    "rate_error",
    "new_channel",
    "updated_channel",
    "disconnected_channel",
    "disconnect_listing",
)
BOOKING_TRIGGERS = frozenset(
    {"booking", "booking_new", "booking_modification", "booking_cancellation"}
)
_NOTICE_KINDS: dict[str, NoticeKind] = {
    "booking_unmapped_room": "needs_attention",
    "booking_unmapped_rate": "needs_attention",
    "non_acked_booking": "revision_unacknowledged",
    "sync_error": "sync_error",
    "sync_warning": "sync_warning",
    "rate_error": "sync_error",
    "new_channel": "channel_lifecycle",
    "updated_channel": "channel_lifecycle",
    "disconnected_channel": "channel_lifecycle",
    "disconnect_listing": "channel_lifecycle",
}


class _Vendor(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Trigger(_Vendor):
    revision_id: str | None = None
    booking_revision_id: str | None = None
    booking_id: str | None = None


# §1.7 names these events but not their payloads; innsync reads the OTA link's id and name
# from the usual Channex field names and keeps the whole payload in the inbox for audit.
_OTA_STATE_OF_EVENT: dict[str, OtaState] = {
    "new_channel": "active",
    "updated_channel": "active",
    "disconnected_channel": "disconnected",
    "disconnect_listing": "listing_disconnected",
    "sync_error": "sync_error",
    "rate_error": "sync_error",
    "sync_warning": "sync_warning",
}


class _OtaPayload(_Vendor):
    channel_id: str | None = None
    id: str | None = None
    channel: str | None = None
    channel_name: str | None = None
    title: str | None = None
    is_active: bool | None = None
    error: str | None = None
    message: str | None = None

    def ota_channel(self, event: str) -> OtaChannel | None:
        code = self.channel_id or self.id
        state = _OTA_STATE_OF_EVENT.get(event)
        if not code or state is None:
            return None
        if state == "active" and self.is_active is False:
            state = "disconnected"  # a channel switched off in Channex no longer sells
        error = None if state == "active" else (self.error or self.message)
        ota = self.channel or self.channel_name or self.title or "unknown"
        return OtaChannel(code[:128], ota[:64], state, None if error is None else error[:500])


class _Envelope(_Vendor):
    event: str
    payload: Any = None
    property_id: str | None = None
    timestamp: str | None = None


def verify_secret_header(headers: Mapping[str, str], body: bytes, expected: str | None) -> None:
    """§1.7 has no signature: the caller is trusted when it sends the subscription's secret."""
    del body  # nothing in the body can prove where it came from
    presented = next((v for k, v in headers.items() if k.lower() == SECRET_HEADER), None)
    if expected is None or presented is None:
        raise BadSignatureError("the webhook carries no innsync webhook secret")
    if not hmac.compare_digest(
        presented.encode("utf-8", "surrogateescape"), expected.encode("utf-8", "surrogateescape")
    ):
        raise BadSignatureError("the webhook secret does not match")


def parse_envelope(body: bytes) -> tuple[str | None, ChannelNotice | None]:
    """The revision id to fetch, and the notice the event stands for.

    A booking trigger has only the id; ``non_acked_booking`` has both; other events have a
    notice, or nothing when innsync does not act on them (e.g. ``ari``, messages).
    """
    try:
        envelope = _Envelope.model_validate(json.loads(body))
    except (ValueError, RecursionError, ValidationError) as exc:
        raise ChannelRejectedError(f"not a Channex webhook: {brief(exc)}") from exc
    payload = envelope.payload if isinstance(envelope.payload, dict) else {}
    trigger = _Trigger.model_validate(payload)
    revision_id = trigger.revision_id or trigger.booking_revision_id
    if envelope.event in BOOKING_TRIGGERS:
        if not revision_id:
            raise ChannelRejectedError(
                f"the Channex {envelope.event} webhook names no revision (was send_data off?)"
            )
        return revision_id, None
    kind = _NOTICE_KINDS.get(envelope.event)
    if kind is None:
        return None, None
    details = {
        key: str(value)
        for key, value in (
            ("event", envelope.event),
            ("property_id", envelope.property_id),
            ("booking_id", trigger.booking_id),
            ("revision_id", revision_id),
            ("timestamp", envelope.timestamp),
        )
        if value
    }
    try:
        ota = _OtaPayload.model_validate(payload).ota_channel(envelope.event)
    except ValidationError:  # a payload of another shape: the notice still tells the PMS
        ota = None
    notice = ChannelNotice(kind, _notice_message(envelope.event, payload), details, ota)
    # A revision unacknowledged for 30 minutes may have left the feed already (PART 3 #3):
    # fetch it by its id, as a booking trigger.
    fetch = revision_id if envelope.event == "non_acked_booking" else None
    return fetch, notice


def _notice_message(event: str, payload: Mapping[str, Any]) -> str:
    described = {
        "booking_unmapped_room": "Channex received a booking for a room type it has no mapping for",
        "booking_unmapped_rate": "Channex received a booking for a rate plan it has no mapping for",
        "non_acked_booking": "Channex reports a booking revision unacknowledged for 30 minutes",
    }.get(event, f"Channex reported {event}")
    extra = {k: v for k, v in payload.items() if isinstance(v, str | int | float | bool)}
    if extra and event not in described:
        detail = "; ".join(f"{key}={value}" for key, value in sorted(extra.items()))
        return f"{described}: {detail}"[:500]
    return described

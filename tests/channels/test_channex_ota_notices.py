"""How Channex's channel lifecycle and health webhooks (§1.7) read as OTA records."""

from __future__ import annotations

import json
from typing import Any

import pytest

from innsync.channels.channex.webhooks import parse_envelope
from innsync.channels.types import OtaChannel


def envelope(event: str, payload: Any) -> bytes:
    return json.dumps({"event": event, "payload": payload, "property_id": "P1"}).encode()


@pytest.mark.parametrize(
    ("event", "payload", "expected"),
    [
        ("new_channel", {"channel_id": "C1", "channel": "BookingCom"}, ("active", None)),
        (
            "updated_channel",
            {"id": "C1", "title": "Expedia", "is_active": False},
            ("disconnected", None),
        ),
        ("disconnected_channel", {"channel_id": "C1"}, ("disconnected", None)),
        (
            "disconnect_listing",
            {"channel_id": "C1", "message": "listing 7 unlisted"},
            ("listing_disconnected", "listing 7 unlisted"),
        ),
        (
            "sync_error",
            {"channel_id": "C1", "error": "invalid hotel id"},
            ("sync_error", "invalid hotel id"),
        ),
        (
            "rate_error",
            {"channel_id": "C1", "error": "rate too low"},
            ("sync_error", "rate too low"),
        ),
        ("sync_warning", {"channel_id": "C1", "error": "slow"}, ("sync_warning", "slow")),
        # An error field on a healthy event is not an error.
        ("new_channel", {"channel_id": "C1", "error": "ignored"}, ("active", None)),
    ],
)
def test_each_event_reads_as_an_ota_state(
    event: str, payload: dict[str, Any], expected: tuple[str, str | None]
) -> None:
    revision_id, notice = parse_envelope(envelope(event, payload))
    assert revision_id is None
    assert notice is not None
    assert notice.ota is not None
    assert (notice.ota.state, notice.ota.error) == expected
    assert notice.ota.channel_code == "C1"


def test_the_ota_is_named_from_the_first_field_that_names_it() -> None:
    _, notice = parse_envelope(envelope("new_channel", {"channel_id": "C1", "title": "My BDC"}))
    assert notice is not None
    assert notice.ota == OtaChannel("C1", "My BDC", "active")
    _, unnamed = parse_envelope(envelope("new_channel", {"channel_id": "C1"}))
    assert unnamed is not None
    assert unnamed.ota is not None
    assert unnamed.ota.ota == "unknown"


@pytest.mark.parametrize(
    "payload", [None, {}, {"channel": "BookingCom"}, ["C1"], {"channel_id": 5}]
)
def test_an_event_without_a_channel_id_is_a_notice_without_an_ota(payload: Any) -> None:
    _, notice = parse_envelope(envelope("sync_error", payload))
    assert notice is not None
    assert notice.kind == "sync_error"
    assert notice.ota is None


def test_events_innsync_does_not_track_make_no_ota() -> None:
    _, notice = parse_envelope(envelope("booking_unmapped_room", {"channel_id": "C1"}))
    assert notice is not None
    assert notice.ota is None

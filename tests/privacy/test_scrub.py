"""Scrubbing a stored document keeps its shape and the booking facts, and nothing personal."""

from __future__ import annotations

from innsync.privacy.scrub import ERASED_TEXT, scrub


def test_personal_values_are_blanked_and_facts_kept() -> None:
    revision = {
        "booking_id": "B1",
        "status": "new",
        "arrival": "2030-06-01",
        "total": "200.00",
        "guest": {"name": "Ada Lovelace", "email": "ada@example.com", "country": "GB"},
        "guarantee": {"card_type": "VI", "cardholder_name": "A LOVELACE", "is_virtual": False},
        "rooms": [{"room_type": "DBL", "prices": {"2030-06-01": "100.00"}}],
        "charges": [{"name": "City tax", "amount": "2.00"}],
        "changes": {"notes": ["", "late, Ada"], "special_requests": [None, "quiet"]},
    }

    assert scrub(revision) == {
        "booking_id": "B1",
        "status": "new",
        "arrival": "2030-06-01",
        "total": "200.00",
        "guest": {"name": "", "email": "", "country": ""},
        "guarantee": {"card_type": "VI", "cardholder_name": "", "is_virtual": False},
        "rooms": [{"room_type": "DBL", "prices": {"2030-06-01": "100.00"}}],
        "charges": [{"name": "City tax", "amount": "2.00"}],
        "changes": {"notes": ["", ""], "special_requests": [None, ""]},
    }


def test_texts_quoting_the_guest_are_replaced() -> None:
    event = {"reservation_id": "r1", "error": "guest LOVELACE refused", "revision": 3}

    assert scrub(event, ["Lovelace"]) == {
        "reservation_id": "r1",
        "error": ERASED_TEXT,
        "revision": 3,
    }
    assert scrub(event, ["Hopper"]) == event

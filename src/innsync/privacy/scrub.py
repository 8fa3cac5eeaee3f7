"""Removing personal values from stored documents (history snapshots, diffs, channel revisions,
event payloads) while keeping their shape, so every reader of them keeps working."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# What replaces a free text that quoted the guest (a sync log detail, a push error).
ERASED_TEXT = "[erased]"
# Keys whose whole value is personal, wherever they appear: a reservation's free text, a
# channel revision's guest, and the personal parts of a guarantee. Amounts, dates, rooms,
# references and statuses are booking facts and stay.
PERSONAL_KEYS = frozenset(
    {
        "guest",
        "notes",
        "special_requests",
        "first_name",
        "last_name",
        "email",
        "phone",
        "address",
        "city",
        "postal_code",
        "cardholder_name",
        "card_last_four",
        "expires",
    }
)


def scrub(document: Any, quoting: Sequence[str] = ()) -> Any:
    """The document with every personal value blanked (text to "", anything else to None), and
    any other text that quotes one of ``quoting`` (a channel's error naming the guest) replaced
    by ``ERASED_TEXT``."""
    if isinstance(document, dict):
        return {
            key: _blank(value) if key in PERSONAL_KEYS else scrub(value, quoting)
            for key, value in document.items()
        }
    if isinstance(document, list):
        return [scrub(value, quoting) for value in document]
    if isinstance(document, str) and quotes(document, quoting):
        return ERASED_TEXT
    return document


def quotes(text: str, needles: Sequence[str]) -> bool:
    """Whether ``text`` contains one of ``needles``, case aside."""
    folded = text.casefold()
    return any(needle.casefold() in folded for needle in needles)


def _blank(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _blank(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [_blank(inner) for inner in value]
    if isinstance(value, str):
        return ""
    if isinstance(value, bool):
        return value
    return None

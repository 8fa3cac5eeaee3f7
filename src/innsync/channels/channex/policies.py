"""[UNCONFIRMED] Channex cancellation policies for rate plans, when the connection links them.

Channex's documents describe no cancellation policy on a rate plan. Public third-party
integrations create policies at ``/cancellation_policies`` and put a policy's id on a rate plan
as ``cancellation_policy_id`` (sources in CHECKLIST.yaml, ``catalog_cancellation_policy``), so
this is off unless the connection sets ``cancellation_policies: linked``.

innsync holds a policy as free text only; Channex's policy is structured terms with a title and
no text field seen in that code. The text goes in the title, shortened, with a marker made of
its digest: one Channex policy per distinct text, found again by the marker, so a second run
creates nothing. The structured terms are sent only on creation (no pre-payment, free
cancellation, a no-show charged like a cancellation); the hotel sets its real terms in Channex
and later runs never overwrite them, as they send the title only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from innsync.channels.channex.answers import CancellationPolicyAttributes
from innsync.channels.channex.client import ChannexClient
from innsync.channels.types import ProvisionAction, ProvisionedItem

# The simulator (and, presumably, Channex) takes titles of up to 255 characters, like the
# other entities' titles (§1.4); the marker takes 26 of them.
MAX_TITLE = 255
MARKER_DIGITS = 12
ELLIPSIS = "…"
# The terms of a new policy, in the field names and values third-party code sends. They
# promise nothing innsync cannot know; the hotel refines them in Channex.
NEW_POLICY_TERMS: dict[str, Any] = {
    "guarantee_payment_policy": "none",
    "after_reservation_cancellation_logic": "free",
    "cancellation_policy_logic": "free",
    "non_show_policy": "default",
}


def policy_marker(text: str) -> str:
    """The part of a policy's title that names its text, whatever the hotel renames."""
    digest = hashlib.sha256(text.encode()).hexdigest()[:MARKER_DIGITS]
    return f"(innsync {digest})"


def policy_title(text: str) -> str:
    """The text on one line, cut to fit the title beside its marker."""
    marker = policy_marker(text)
    room = MAX_TITLE - len(marker) - 1
    line = " ".join(text.split())
    if len(line) > room:
        line = line[: room - len(ELLIPSIS)].rstrip() + ELLIPSIS
    return f"{line} {marker}"


def new_policy_fields(text: str, property_id: str, currency: str) -> dict[str, Any]:
    return {
        "property_id": property_id,
        "title": policy_title(text),
        "currency": currency,
        **NEW_POLICY_TERMS,
    }


async def ensure_policies(
    client: ChannexClient, property_id: str, currency: str, texts: Iterable[str]
) -> tuple[dict[str, str], list[ProvisionedItem]]:
    """The Channex policy id of each non-empty text, creating or renaming what is missing."""
    wanted = sorted({text for text in texts if text.strip()})
    if not wanted:
        return {}, []
    found = await client.list_cancellation_policies(property_id)
    ids: dict[str, str] = {}
    items: list[ProvisionedItem] = []
    for text in wanted:
        title = policy_title(text)
        match = _with_marker(found, policy_marker(text))
        if match is None:
            created = await client.create_cancellation_policy(
                new_policy_fields(text, property_id, currency)
            )
            items.append(ProvisionedItem("cancellation_policy", created.id, title, "created"))
            ids[text] = created.id
            continue
        changed: tuple[str, ...] = ()
        if match.title != title:
            await client.update_cancellation_policy(match.id, {"title": title})
            changed = ("title",)
        action: ProvisionAction = "updated" if changed else "matched"
        items.append(ProvisionedItem("cancellation_policy", match.id, title, action, None, changed))
        ids[text] = match.id
    return ids, items


def _with_marker(
    found: list[CancellationPolicyAttributes], marker: str
) -> CancellationPolicyAttributes | None:
    return next((policy for policy in found if marker in policy.title), None)

"""[UNCONFIRMED] Cancellation policies (``/cancellation_policies``) and their validation.

Channex's documents do not describe this endpoint. Its fields, and the values checked here, are
the ones public third-party integrations send (src/innsync/channels/channex/CHECKLIST.yaml,
``catalog_cancellation_policy``); a value outside them is refused like any §1.2 validation error.
"""

from __future__ import annotations

from typing import Any

from innsync.simulators.channex.checks import merged
from innsync.simulators.channex.errors import BLANK, NOT_FOUND_MESSAGE
from innsync.simulators.channex.state import Record, SimulatorState

GUARANTEE_POLICIES = frozenset(("none", "percent_based", "nights_based"))
AFTER_RESERVATION_LOGIC = frozenset(("free", "guarantee_amount", "percent_based", "nights_based"))
POLICY_LOGIC = frozenset(("free", "deadline", "non_refundable"))
POLICY_MODES = frozenset(("percent", "nights"))
DEADLINE_TYPES = frozenset(("days", "hours"))
NON_SHOW_POLICIES = frozenset(("default", "total_price"))
# Stored as sent and read back: amounts and the rate plans the policy names.
PASSED_THROUGH = (
    "guarantee_payment_amount",
    "after_reservation_cancellation_amount",
    "cancellation_policy_deadline",
    "cancellation_policy_penalty",
    "guarantee_collected_at_days",
)


def cancellation_policy_attributes(
    state: SimulatorState, body: dict[str, Any], existing: Record | None
) -> dict[str, Any]:
    check = merged(body, existing, ("property_id",))
    property_id = check.text("property_id", required=True)
    prop = state.properties.get(property_id or "")
    if property_id is not None and prop is None:
        check.add("property_id", NOT_FOUND_MESSAGE)
    attributes: dict[str, Any] = {
        "property_id": property_id,
        "title": check.text("title", required=True),
        "currency": check.text("currency") or (prop.attributes["currency"] if prop else None),
        # Third-party code: Channex refuses a policy without a pre-payment policy.
        "guarantee_payment_policy": check.choice(
            "guarantee_payment_policy", GUARANTEE_POLICIES, None
        ),
        "after_reservation_cancellation_logic": check.choice(
            "after_reservation_cancellation_logic", AFTER_RESERVATION_LOGIC, "free"
        ),
        "cancellation_policy_logic": check.choice(
            "cancellation_policy_logic", POLICY_LOGIC, "free"
        ),
        "cancellation_policy_mode": check.choice("cancellation_policy_mode", POLICY_MODES, None),
        "cancellation_policy_deadline_type": check.choice(
            "cancellation_policy_deadline_type", DEADLINE_TYPES, None
        ),
        "non_show_policy": check.choice("non_show_policy", NON_SHOW_POLICIES, "default"),
        "allow_deadline_based_logic": check.boolean("allow_deadline_based_logic", False),
        "associated_rate_plan_ids": check.data.get("associated_rate_plan_ids") or [],
        **{name: check.data.get(name) for name in PASSED_THROUGH},
    }
    if attributes["guarantee_payment_policy"] is None:
        check.add("guarantee_payment_policy", BLANK)
    check.done()
    return attributes


def check_policy_link(state: SimulatorState, policy_id: Any, property_id: str | None) -> bool:
    """Whether a rate plan's ``cancellation_policy_id`` names a policy of its property."""
    if policy_id is None:
        return True
    policy = state.cancellation_policies.get(policy_id) if isinstance(policy_id, str) else None
    return policy is not None and policy.attributes["property_id"] == property_id

"""A rate plan's meal type and cancellation policy on Channex (issue #21 evidence), over real HTTP.

The policy link is [UNCONFIRMED] (third-party code only, CHECKLIST.yaml
``catalog_cancellation_policy``), so it is the connection's choice: with
``cancellation_policies: linked`` provisioning creates one Channex policy per distinct text and
links each plan to it, and the catalog pass carries a changed text across once; left ``off``,
no policy call is made at all.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from innsync.connections.catalog_sync import keep_catalogs_in_step
from innsync.crypto import SecretBox
from tests.channels.channex_live import LiveChannex, live_channex

pytestmark = pytest.mark.backends("sqlite", "postgresql")

FLEXIBLE = "Free cancellation until 48 hours before arrival.\nAfter that, the first night."
STRICT = "Non-refundable."
STRICTER = "Non-refundable; a no-show pays the whole stay."


@pytest.fixture
def live(committed: Engine, secret_box: SecretBox) -> Iterator[LiveChannex]:
    with live_channex(committed, secret_box) as running:
        yield running


def set_plans(live: LiveChannex, *changes: dict[str, Any]) -> None:
    """Change the first plans; every plan gets a title of its own (the hotel rows name two
    plans alike, and §1.4 wants titles unique per property)."""
    padded = [*changes, *([{}] * (len(live.rate_plan_ids) - len(changes)))]
    with live.api() as api:
        for n, (plan_id, change) in enumerate(zip(live.rate_plan_ids, padded, strict=True)):
            body = {"name": f"Plan {n}", **change}
            answer = api.patch(f"/api/v1/rate-plans/{plan_id}", json=body)
            assert answer.status_code == 200, answer.text


def provision(live: LiveChannex) -> dict[str, Any]:
    with live.api() as api:
        answer = api.post(f"/api/v1/connections/{live.connection_id}/provision")
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def catalog_pass(live: LiveChannex) -> int:
    async def run() -> int:
        async with httpx.AsyncClient(timeout=30) as http:
            return await keep_catalogs_in_step(live.sessions, live.box, http)

    return asyncio.run(run())


def channex_list(live: LiveChannex, path: str) -> dict[str, dict[str, Any]]:
    """The property's entities on the simulator, read through its public API."""
    body = live.sim.get(
        f"/api/v1/{path}",
        {"filter[property_id]": live.channex.property_id, "pagination[limit]": "100"},
    ).json()
    return {item["id"]: item["attributes"] for item in body["data"]}


def channex_plans(live: LiveChannex) -> dict[str, dict[str, Any]]:
    return channex_list(live, "rate_plans")


def channex_policies(live: LiveChannex) -> dict[str, dict[str, Any]]:
    return channex_list(live, "cancellation_policies")


def writes(live: LiveChannex) -> list[tuple[str, str]]:
    return [(row["method"], row["path"]) for row in live.calls() if row["method"] != "GET"]


def policy_calls(live: LiveChannex) -> list[str]:
    return [row["path"] for row in live.calls() if "cancellation_policies" in row["path"]]


def test_linked_policies_and_meal_types_reach_channex_and_a_changed_text_goes_once(
    live: LiveChannex,
) -> None:
    theirs = live.channex.rate_plan_ids
    set_plans(
        live,
        {"meal_plan": "breakfast", "cancellation_policy": FLEXIBLE},
        {"meal_plan": "half_board", "cancellation_policy": FLEXIBLE},
        {"cancellation_policy": STRICT},
        {"cancellation_policy": ""},
    )
    with live.api() as api:
        changed = api.patch(
            f"/api/v1/connections/{live.connection_id}",
            json={"config": {"cancellation_policies": "linked"}},
        )
    assert changed.status_code == 200, changed.text

    result = provision(live)
    made = [i for i in result["items"] if i["kind"] == "cancellation_policy"]
    assert [i["action"] for i in made] == ["created", "created"]  # one per distinct text
    policies = channex_policies(live)
    assert len(policies) == 2
    by_text = {
        text: next(pid for pid, p in policies.items() if p["title"].startswith(start))
        for text, start in ((FLEXIBLE, "Free cancellation until 48 hours"), (STRICT, STRICT))
    }
    flexible = policies[by_text[FLEXIBLE]]
    # The text on one line, beside the marker that finds it again.
    assert flexible["title"].startswith(" ".join(FLEXIBLE.split()) + " (innsync ")
    assert (flexible["guarantee_payment_policy"], flexible["currency"]) == ("none", "EUR")
    plans = channex_plans(live)
    assert [plans[p]["meal_type"] for p in theirs] == [
        "breakfast",
        "half_board",
        "room_only",
        "room_only",
    ]
    assert [plans[p]["cancellation_policy_id"] for p in theirs] == [
        by_text[FLEXIBLE],
        by_text[FLEXIBLE],
        by_text[STRICT],
        None,
    ]

    # In step: the catalog pass sends nothing, and provisioning again creates nothing.
    live.mark_log()
    assert catalog_pass(live) == 0
    again = provision(live)
    assert again["created"] == 0
    assert writes(live) == []

    # A changed text reaches Channex through the catalog pass, once.
    set_plans(live, {}, {}, {"cancellation_policy": STRICTER})
    live.mark_log()
    assert catalog_pass(live) == 1
    assert [method for method, _ in writes(live)] == ["POST", "PUT"]
    assert writes(live)[1] == ("PUT", f"/api/v1/rate_plans/{theirs[2]}")
    policies = channex_policies(live)
    assert len(policies) == 3  # the old text's policy is left on Channex, unlinked
    linked = channex_plans(live)[theirs[2]]["cancellation_policy_id"]
    assert policies[linked]["title"].startswith(STRICTER + " (innsync ")
    live.mark_log()
    assert catalog_pass(live) == 0
    assert writes(live) == []


def test_with_policies_off_no_policy_call_is_made(live: LiveChannex) -> None:
    theirs = live.channex.rate_plan_ids
    set_plans(live, {"meal_plan": "full_board", "cancellation_policy": FLEXIBLE})
    live.mark_log()
    provision(live)
    plans = channex_plans(live)
    assert plans[theirs[0]]["meal_type"] == "full_board"
    assert all(plan["cancellation_policy_id"] is None for plan in plans.values())

    # The text is in the catalog digest, so a change starts a pass; it sends nothing.
    set_plans(live, {"cancellation_policy": STRICT})
    writes_before = len(writes(live))
    assert catalog_pass(live) == 1
    assert len(writes(live)) == writes_before
    assert policy_calls(live) == []
    assert channex_policies(live) == {}

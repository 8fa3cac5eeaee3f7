"""Channex simulator: [UNCONFIRMED] cancellation policies and a rate plan's link to one.

The endpoint and fields are those of third-party integration code (CHECKLIST.yaml,
``catalog_cancellation_policy``); Channex's documents describe neither.
"""

from __future__ import annotations

from typing import Any

from tests.simulators.conftest import Sim, SimClient, create_hotel


def policy_body(property_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "cancellation_policy": {
            "property_id": property_id,
            "title": "Free until 2 days before",
            "guarantee_payment_policy": "none",
            "cancellation_policy_logic": "deadline",
            "cancellation_policy_deadline": 2,
            "cancellation_policy_deadline_type": "days",
            "cancellation_policy_mode": "percent",
            "cancellation_policy_penalty": "100",
            "non_show_policy": "total_price",
            **extra,
        }
    }


def create_policy(client: SimClient, property_id: str, **extra: Any) -> str:
    answer = client.post("/api/v1/cancellation_policies", policy_body(property_id, **extra))
    assert answer.status_code == 201, answer.text
    policy_id: str = answer.json()["data"]["id"]
    return policy_id


def test_a_policy_is_created_listed_read_and_updated(sim: Sim) -> None:
    hotel = create_hotel(sim.client)
    other = create_hotel(sim.client, title="Hillside")
    policy_id = create_policy(sim.client, hotel.property_id)
    create_policy(sim.client, other.property_id, title="Elsewhere")

    read = sim.client.get(f"/api/v1/cancellation_policies/{policy_id}").json()["data"]
    assert read["type"] == "cancellation_policy"
    attributes = read["attributes"]
    assert attributes["title"] == "Free until 2 days before"
    assert attributes["currency"] == "EUR"  # the property's, when left out
    assert (attributes["cancellation_policy_logic"], attributes["non_show_policy"]) == (
        "deadline",
        "total_price",
    )
    listed = sim.client.get(
        "/api/v1/cancellation_policies", {"filter[property_id]": hotel.property_id}
    ).json()
    assert [item["id"] for item in listed["data"]] == [policy_id]

    # PUT is a partial update: the title changes, the terms stay.
    updated = sim.client.put(
        f"/api/v1/cancellation_policies/{policy_id}",
        {"cancellation_policy": {"title": "Flexible"}},
    )
    assert updated.status_code == 200, updated.text
    attributes = sim.client.get(f"/api/v1/cancellation_policies/{policy_id}").json()["data"][
        "attributes"
    ]
    assert (attributes["title"], attributes["cancellation_policy_deadline"]) == ("Flexible", 2)


def test_invalid_policies_are_refused_with_validation_errors(sim: Sim) -> None:
    hotel = create_hotel(sim.client)
    body = policy_body(hotel.property_id, guarantee_payment_policy=None, non_show_policy="never")
    body["cancellation_policy"].pop("title")
    refused = sim.client.post("/api/v1/cancellation_policies", body)
    assert refused.status_code == 422
    assert refused.json()["errors"]["details"] == {
        "title": ["can't be blank"],
        "non_show_policy": ["is invalid"],
        "guarantee_payment_policy": ["can't be blank"],
    }
    unknown = sim.client.post(
        "/api/v1/cancellation_policies", policy_body("00000000-0000-4000-8000-000000000000")
    )
    assert unknown.status_code == 422
    assert unknown.json()["errors"]["details"] == {"property_id": ["not found"]}
    assert sim.client.get("/api/v1/cancellation_policies").json()["meta"]["total"] == 0
    assert sim.client.get("/api/v1/cancellation_policies/nope").status_code == 404


def test_a_rate_plan_links_only_a_policy_of_its_own_property(sim: Sim) -> None:
    hotel = create_hotel(sim.client)
    other = create_hotel(sim.client, title="Hillside")
    ours = create_policy(sim.client, hotel.property_id)
    theirs = create_policy(sim.client, other.property_id)
    url = f"/api/v1/rate_plans/{hotel.twin_bar_id}"

    for wrong in (theirs, "00000000-0000-4000-8000-000000000000"):
        refused = sim.client.put(url, {"rate_plan": {"cancellation_policy_id": wrong}})
        assert refused.status_code == 422
        assert refused.json()["errors"]["details"] == {"cancellation_policy_id": ["not found"]}
    linked = sim.client.put(url, {"rate_plan": {"cancellation_policy_id": ours}})
    assert linked.status_code == 200, linked.text
    plan = sim.client.get(url).json()["data"]
    assert plan["attributes"]["cancellation_policy_id"] == ours
    assert plan["relationships"]["cancellation_policy"]["data"]["id"] == ours
    # Unlinking takes null.
    unlinked = sim.client.put(url, {"rate_plan": {"cancellation_policy_id": None}})
    assert unlinked.json()["data"]["attributes"]["cancellation_policy_id"] is None

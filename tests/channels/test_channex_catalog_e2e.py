"""Rate plans removed in innsync are removed on Channex once unmapped (issue #21, part 4).

Over real HTTP: the operator unmaps a plan, deletes it in innsync, and asks innsync to remove
the Channex rate plans no mapping uses; Channex keeps one an OTA channel still maps (§1.4:
only `force` deletes a mapped plan), and innsync says why.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select

from innsync.connections.models import ProvisionedEntity
from innsync.crypto import SecretBox
from tests.channels.channex_live import LiveChannex, live_channex

pytestmark = pytest.mark.backends("sqlite", "postgresql")


@pytest.fixture
def live(committed: Engine, secret_box: SecretBox) -> Iterator[LiveChannex]:
    with live_channex(committed, secret_box) as running:
        yield running


def channex_plans(live: LiveChannex) -> set[str]:
    body = live.sim.get(
        "/api/v1/rate_plans",
        {"filter[property_id]": live.channex.property_id, "pagination[limit]": "100"},
    ).json()
    return {item["id"] for item in body["data"]}


def test_a_removed_and_unmapped_rate_plan_is_removed_on_channex(live: LiveChannex) -> None:
    ours, theirs = live.rate_plan_ids, live.channex.rate_plan_ids
    assert len(ours) == len(theirs) >= 4
    gone, sold_by_ota = 1, 3
    # An OTA on Channex still sells the plan innsync will only unmap.
    live.sim.post(
        "/_sim/channels",
        {
            "property_id": live.channex.property_id,
            "channel": "BookingCom",
            "rate_plan_ids": [theirs[sold_by_ota]],
        },
    )
    with live.api() as api:
        url = f"/api/v1/connections/{live.connection_id}/mappings"
        mappings: dict[str, Any] = api.get(url).json()
        kept_plans = [
            m
            for m in mappings["rate_plans"]
            if m["channel_code"] not in {theirs[gone], theirs[sold_by_ota]}
        ]
        body = {"room_types": mappings["room_types"], "rate_plans": kept_plans}
        assert api.put(url, json=body).status_code == 200
        deleted = api.delete(f"/api/v1/rate-plans/{ours[gone]}")
        assert deleted.status_code == 204, deleted.text

        answer = api.post(f"/api/v1/connections/{live.connection_id}/remote-catalog/remove-unused")
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["removed"] == [theirs[gone]]
    (kept,) = result["kept"]
    assert kept["remote_id"] == theirs[sold_by_ota]
    assert "has channel(s)" in kept["reason"]
    assert channex_plans(live) == set(theirs) - {theirs[gone]}

    # Nothing unused is left but the plan the OTA sells: a second call removes nothing more.
    with live.api() as api:
        again = api.post(f"/api/v1/connections/{live.connection_id}/remote-catalog/remove-unused")
    assert again.json()["removed"] == []
    assert [k["remote_id"] for k in again.json()["kept"]] == [theirs[sold_by_ota]]
    deletes = [
        row for row in live.sim.get("/_sim/requests").json()["data"] if row["method"] == "DELETE"
    ]
    assert len(deletes) == 3  # one removed, the OTA's plan refused twice


def channex_room_types(live: LiveChannex) -> set[str]:
    body = live.sim.get(
        "/api/v1/room_types",
        {"filter[property_id]": live.channex.property_id, "pagination[limit]": "100"},
    ).json()
    return {item["id"] for item in body["data"]}


def deletes(live: LiveChannex) -> list[str]:
    rows = live.sim.get("/_sim/requests").json()["data"]
    return [row["path"] for row in rows if row["method"] == "DELETE"]


def sell_through_ota(live: LiveChannex, rate_plan_id: str) -> None:
    answer = live.sim.post(
        "/_sim/channels",
        {
            "property_id": live.channex.property_id,
            "channel": "BookingCom",
            "rate_plan_ids": [rate_plan_id],
        },
    )
    assert answer.status_code == 201, answer.text


def test_unused_room_types_are_removed_once_no_rate_plan_is_left_on_them(
    live: LiveChannex,
) -> None:
    (double, single), plans = live.channex.room_type_ids, live.channex.rate_plan_ids
    # Double's plans are 0 and 1, Single's 2 and 3; an OTA still sells Single's first plan.
    sell_through_ota(live, plans[2])
    with live.api() as api:
        url = f"/api/v1/connections/{live.connection_id}/mappings"
        assert api.put(url, json={"room_types": [], "rate_plans": []}).status_code == 200
        # The Double is removed in innsync as well: its plans first, then the room type.
        for plan in live.rate_plan_ids[:2]:
            assert api.delete(f"/api/v1/rate-plans/{plan}").status_code == 204
        removed_here = api.delete(f"/api/v1/room-types/{live.room_type_ids[0]}")
        assert removed_here.status_code == 204, removed_here.text
        answer = api.post(f"/api/v1/connections/{live.connection_id}/remote-catalog/remove-unused")
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert sorted(result["removed"]) == sorted([plans[0], plans[1], plans[3]])
    assert [k["remote_id"] for k in result["kept"]] == [plans[2]]
    assert "has channel(s)" in result["kept"][0]["reason"]
    assert result["removed_room_types"] == [double]
    (kept_room,) = result["kept_room_types"]
    assert kept_room == {"remote_id": single, "reason": f"still has rate plan(s) {plans[2]}"}
    assert channex_room_types(live) == {single}
    assert channex_plans(live) == {plans[2]}

    # A second call tries the OTA's plan again and never the room type that still holds it.
    with live.api() as api:
        again = api.post(f"/api/v1/connections/{live.connection_id}/remote-catalog/remove-unused")
    assert (again.json()["removed"], again.json()["removed_room_types"]) == ([], [])
    assert [k["remote_id"] for k in again.json()["kept_room_types"]] == [single]
    assert sorted(deletes(live)) == sorted(
        [f"/api/v1/rate_plans/{plan}" for plan in (plans[0], plans[1], plans[2], plans[3])]
        + [f"/api/v1/room_types/{double}", f"/api/v1/rate_plans/{plans[2]}"]
    )


def test_deleting_a_connection_removes_nothing_on_channex_by_default(live: LiveChannex) -> None:
    with live.api() as api:
        answer = api.delete(f"/api/v1/connections/{live.connection_id}")
        read = api.get(f"/api/v1/connections/{live.connection_id}").json()
    assert answer.status_code == 204, answer.text
    assert read["state"] == "disabled"
    assert deletes(live) == []
    assert channex_plans(live) == set(live.channex.rate_plan_ids)
    assert channex_room_types(live) == set(live.channex.room_type_ids)


def add_room_type(api: httpx.Client, live: LiveChannex, code: str, plans: list[str]) -> None:
    base = f"/api/v1/properties/{live.property_id}"
    room = api.post(
        f"{base}/room-types",
        json={
            "code": code,
            "name": code.title(),
            "sellable_units": 2,
            "max_adults": 2,
            "max_occupancy": 2,
            "default_occupancy": 2,
        },
    )
    assert room.status_code == 201, room.text
    for plan in plans:
        made = api.post(
            f"{base}/rate-plans",
            json={
                "room_type_id": room.json()["id"],
                "code": f"{code}-{plan}",
                "name": f"{code} {plan}",
            },
        )
        assert made.status_code == 201, made.text


def name_as_on_channex(api: httpx.Client, live: LiveChannex) -> None:
    """innsync's names become the Channex titles, so provisioning matches without renaming."""
    pairs = [
        ("room-types", "room_types", ours, theirs)
        for ours, theirs in zip(live.room_type_ids, live.channex.room_type_ids, strict=True)
    ] + [
        ("rate-plans", "rate_plans", ours, theirs)
        for ours, theirs in zip(live.rate_plan_ids, live.channex.rate_plan_ids, strict=True)
    ]
    for our_path, their_path, ours, theirs in pairs:
        title = live.sim.get(f"/api/v1/{their_path}/{theirs}").json()["data"]["attributes"]
        renamed = api.patch(f"/api/v1/{our_path}/{ours}", json={"name": title["title"]})
        assert renamed.status_code == 200, renamed.text


def test_deleting_a_connection_with_remove_remote_removes_what_provisioning_created(
    live: LiveChannex,
) -> None:
    # The Double and Single were on Channex before innsync: provisioning only matches them.
    before_plans, before_rooms = channex_plans(live), channex_room_types(live)
    with live.api() as api:
        name_as_on_channex(api, live)
        add_room_type(api, live, "SUITE", ["BAR"])
        add_room_type(api, live, "LOFT", ["BAR", "NRF"])
        provisioned = api.post(f"/api/v1/connections/{live.connection_id}/provision")
    assert provisioned.status_code == 200, provisioned.text
    made = {
        (item["kind"], item["title"]): item["remote_id"]
        for item in provisioned.json()["items"]
        if item["action"] == "created" and item["kind"] != "account"
    }
    assert len(made) == 5  # two room types, three rate plans: the rest was matched
    with live.api() as api:  # a second run matches everything and records nothing more
        again = api.post(f"/api/v1/connections/{live.connection_id}/provision")
    assert again.json()["created"] == 0
    with live.sessions() as session:
        recorded = session.execute(
            select(ProvisionedEntity.kind, ProvisionedEntity.remote_id).where(
                ProvisionedEntity.connection_id == live.connection_id
            )
        )
        assert sorted(map(tuple, recorded)) == sorted((k, v) for (k, _t), v in made.items())
    suite, loft = made["room_type", "Suite"], made["room_type", "Loft"]
    suite_bar, loft_bar = made["rate_plan", "SUITE BAR"], made["rate_plan", "LOFT BAR"]
    loft_nrf = made["rate_plan", "LOFT NRF"]
    # An OTA sells a matched plan and one that provisioning created.
    sell_through_ota(live, live.channex.rate_plan_ids[0])
    sell_through_ota(live, loft_bar)

    with live.api() as api:
        answer = api.delete(
            f"/api/v1/connections/{live.connection_id}", params={"remove_remote": "true"}
        )
        read = api.get(f"/api/v1/connections/{live.connection_id}").json()
        mappings = api.get(f"/api/v1/connections/{live.connection_id}/mappings").json()
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert sorted(result["removed"]) == sorted([suite_bar, loft_nrf])
    assert [k["remote_id"] for k in result["kept"]] == [loft_bar]
    assert "has channel(s)" in result["kept"][0]["reason"]
    assert result["removed_room_types"] == [suite]
    assert result["kept_room_types"] == [
        {"remote_id": loft, "reason": f"still has rate plan(s) {loft_bar}"}
    ]
    assert result["kept_property"]["remote_id"] == live.channex.property_id
    assert channex_plans(live) == before_plans | {loft_bar}
    assert channex_room_types(live) == before_rooms | {loft}
    assert read["state"] == "disabled"
    assert (mappings["room_types"], mappings["rate_plans"]) == ([], [])


def test_a_channel_failure_while_removing_keeps_the_connection(live: LiveChannex) -> None:
    live.sim.post("/_sim/faults", {"server_error_rate": 1.0})
    with live.api() as api:
        answer = api.delete(
            f"/api/v1/connections/{live.connection_id}", params={"remove_remote": "true"}
        )
        live.sim.delete("/_sim/faults")
        read = api.get(f"/api/v1/connections/{live.connection_id}").json()
        mappings = api.get(f"/api/v1/connections/{live.connection_id}/mappings").json()
    assert answer.status_code == 503, answer.text
    assert read["state"] != "disabled"
    assert len(mappings["rate_plans"]) == len(live.channex.rate_plan_ids)

"""Channex provisioning and the remote catalog, against the simulator over httpx's ASGI transport.

What Channex holds is always read back through the simulator's own public API, never from the
adapter's answer, so a wrong answer cannot confirm itself.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import httpx
import pytest
from fastapi import FastAPI

from innsync.channels.channex import ChannexAdapter, ChannexConfig
from innsync.channels.channex.policies import policy_marker, policy_title
from innsync.channels.contract import capabilities_of
from innsync.channels.errors import ChannelAuthError, ChannelRejectedError, MappingMissingError
from innsync.channels.types import (
    CatalogRatePlan,
    CatalogRoomType,
    PropertyCatalog,
    ProvisionResult,
)
from innsync.simulators.channex import SimulatorConfig, create_app
from tests.simulators.conftest import START as SIM_START
from tests.simulators.conftest import FakeClock, RecordingSleep, SimClient, room_type_body

KEY = "provisioning-key"
BASE_URL = "http://channex.sim/api/v1"
T = TypeVar("T")

DOUBLE = CatalogRoomType(
    key="rt-double",
    title="Double",
    units=5,
    max_adults=3,
    max_children=1,
    default_occupancy=2,
)
SINGLE = CatalogRoomType(
    key="rt-single", title="Single", units=0, max_adults=1, max_children=0, default_occupancy=1
)
BAR = CatalogRatePlan(key="rp-bar", room_type_key="rt-double", title="BAR", pricing="per_room")
PER_PERSON = CatalogRatePlan(
    key="rp-pp",
    room_type_key="rt-single",
    title="Single per person",
    pricing="per_person",
    occupancies=(1,),
)
CATALOG = PropertyCatalog(
    account_title="Acme Hotels (innsync 0123456789ab)",
    account_marker="innsync 0123456789ab",
    title="Harbour",
    currency="EUR",
    timezone="Europe/Lisbon",
    room_types=(DOUBLE, SINGLE),
    rate_plans=(BAR, PER_PERSON),
)


@dataclass
class Channex:
    """A fresh simulator and the way to run an adapter against it."""

    app: FastAPI
    sim: SimClient

    def run(
        self,
        use: Callable[[ChannexAdapter], Awaitable[T]],
        property_id: str | None = None,
        key: str = KEY,
        policies: Literal["off", "linked"] = "off",
    ) -> T:
        config = ChannexConfig(
            base_url=BASE_URL,
            api_key=key,
            property_id=property_id,
            cancellation_policies=policies,
        )

        async def scenario() -> T:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app)) as http:
                return await use(ChannexAdapter(config, http))

        return asyncio.run(scenario())

    def provision(
        self,
        catalog: PropertyCatalog = CATALOG,
        property_id: str | None = None,
        policies: Literal["off", "linked"] = "off",
    ) -> ProvisionResult:
        return self.run(
            lambda adapter: adapter.provision_property(catalog), property_id, policies=policies
        )

    def listed(self, path: str, **filters: str) -> list[dict[str, Any]]:
        """Every item of a simulator list, its attributes with the relationships beside them."""
        params = {f"filter[{name}]": value for name, value in filters.items()}
        body = self.sim.get(path, {**params, "pagination[limit]": "100"}).json()
        assert body["meta"]["total"] == len(body["data"])
        return [
            {**item["attributes"], "relationships": item.get("relationships", {})}
            for item in body["data"]
        ]

    def writes(self) -> list[tuple[str, str]]:
        log = self.sim.get("/_sim/requests").json()["data"]
        return [(row["method"], row["path"]) for row in log if row["method"] in ("POST", "PUT")]


@pytest.fixture
def channex() -> Channex:
    app = create_app(
        SimulatorConfig(
            api_keys=(KEY,),
            seed=5,
            clock=FakeClock(SIM_START),
            sleep=RecordingSleep(),
            pump_interval_seconds=None,
        )
    )
    return Channex(app, SimClient(app, api_key=KEY))


def by_title(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item["title"]: item for item in items}


def test_provisioning_creates_the_group_property_room_types_and_rate_plans(
    channex: Channex,
) -> None:
    result = channex.provision()

    groups = channex.listed("/api/v1/groups")
    assert [g["title"] for g in groups] == ["Acme Hotels (innsync 0123456789ab)"]
    properties = channex.listed("/api/v1/properties")
    assert len(properties) == 1
    prop = properties[0]
    assert (prop["id"], prop["title"], prop["currency"], prop["timezone"]) == (
        result.remote_property_id,
        "Harbour",
        "EUR",
        "Europe/Lisbon",
    )
    assert prop["relationships"]["groups"]["data"] == [{"type": "group", "id": groups[0]["id"]}]

    rooms = by_title(channex.listed("/api/v1/room_types", property_id=prop["id"]))
    assert set(rooms) == {"Double", "Single"}
    double, single = rooms["Double"], rooms["Single"]
    assert {k: double[k] for k in ("count_of_rooms", "occ_adults", "occ_children")} == {
        "count_of_rooms": 5,
        "occ_adults": 3,
        "occ_children": 1,
    }
    assert (double["occ_infants"], double["default_occupancy"]) == (0, 2)
    # Channex needs a positive count of rooms; innsync's 0 sellable units become 1.
    assert (single["count_of_rooms"], single["occ_adults"], single["default_occupancy"]) == (
        1,
        1,
        1,
    )

    plans = by_title(channex.listed("/api/v1/rate_plans", property_id=prop["id"]))
    assert set(plans) == {"BAR", "Single per person"}
    bar, per_person = plans["BAR"], plans["Single per person"]
    assert (bar["room_type_id"], bar["sell_mode"], bar["rate_mode"]) == (
        double["id"],
        "per_room",
        "manual",
    )
    assert [(o["occupancy"], o["is_primary"]) for o in bar["options"]] == [(3, True)]
    assert (per_person["room_type_id"], per_person["sell_mode"]) == (single["id"], "per_person")
    assert [(o["occupancy"], o["is_primary"]) for o in per_person["options"]] == [(1, True)]

    assert result.remote_ids("room_type") == {"rt-double": double["id"], "rt-single": single["id"]}
    assert result.remote_ids("rate_plan") == {"rp-bar": bar["id"], "rp-pp": per_person["id"]}
    assert [item.action for item in result.items] == ["created"] * 6
    assert dict(result.config_updates) == {"property_id": prop["id"]}


def test_a_per_person_plan_gets_one_option_per_priced_occupancy(channex: Channex) -> None:
    family = dataclasses.replace(DOUBLE, key="rt-family", title="Family", max_adults=4)
    plan = CatalogRatePlan(
        key="rp-family",
        room_type_key="rt-family",
        title="Family per person",
        pricing="per_person",
        # 5 exceeds occ_adults: Channex refuses it (§1.4), so it is left out.
        occupancies=(3, 1, 2, 5),
    )
    catalog = dataclasses.replace(CATALOG, room_types=(family,), rate_plans=(plan,))
    result = channex.provision(catalog)

    (found,) = channex.listed("/api/v1/rate_plans", property_id=result.remote_property_id)
    # The primary option is the room's default occupancy (2).
    assert [(o["occupancy"], o["is_primary"]) for o in found["options"]] == [
        (1, False),
        (2, True),
        (3, False),
    ]


def test_provisioning_twice_creates_nothing_and_returns_the_same_ids(channex: Channex) -> None:
    first = channex.provision()
    writes_after_first = channex.writes()
    assert len(writes_after_first) == 6

    # Once as before (nothing stored), once as innsync runs it again (ids stored and mapped).
    mapped = dataclasses.replace(
        CATALOG,
        room_types=tuple(
            dataclasses.replace(r, remote_id=first.remote_ids("room_type")[r.key])
            for r in CATALOG.room_types
        ),
        rate_plans=tuple(
            dataclasses.replace(p, remote_id=first.remote_ids("rate_plan")[p.key])
            for p in CATALOG.rate_plans
        ),
    )
    for again in (channex.provision(), channex.provision(mapped, first.remote_property_id)):
        assert again.remote_property_id == first.remote_property_id
        assert again.remote_ids("room_type") == first.remote_ids("room_type")
        assert again.remote_ids("rate_plan") == first.remote_ids("rate_plan")
        assert {item.action for item in again.items} == {"matched"}
        assert len(again.items) == 6

    assert channex.writes() == writes_after_first
    assert len(channex.listed("/api/v1/groups")) == 1
    assert len(channex.listed("/api/v1/properties")) == 1
    assert len(channex.listed("/api/v1/room_types")) == 2
    assert len(channex.listed("/api/v1/rate_plans")) == 2


def test_linked_policies_come_with_new_plans_and_are_found_again_by_their_marker(
    channex: Channex,
) -> None:
    text = "Free cancellation until 2 days before arrival."
    catalog = dataclasses.replace(
        CATALOG, rate_plans=(dataclasses.replace(BAR, cancellation_policy=text), PER_PERSON)
    )
    first = channex.provision(catalog, policies="linked")
    (policy,) = channex.listed("/api/v1/cancellation_policies")
    assert policy["title"] == policy_title(text)
    plans = by_title(channex.listed("/api/v1/rate_plans"))
    assert plans["BAR"]["cancellation_policy_id"] == policy["id"]
    assert plans["Single per person"]["cancellation_policy_id"] is None
    # A new plan without a policy is created without the (unconfirmed) field at all.
    log = channex.sim.get("/_sim/requests", {"bodies": "1"}).json()["data"]
    created = [
        json.loads(row["body"])["rate_plan"]
        for row in log
        if (row["method"], row["path"]) == ("POST", "/api/v1/rate_plans")
    ]
    assert [("cancellation_policy_id" in plan, plan["title"]) for plan in created] == [
        (True, "BAR"),
        (False, "Single per person"),
    ]
    writes = channex.writes()
    assert writes.count(("POST", "/api/v1/cancellation_policies")) == 1

    again = channex.provision(catalog, first.remote_property_id, policies="linked")
    assert {item.action for item in again.items} == {"matched"}
    assert channex.writes() == writes

    # Renamed by hand in Channex: found by its marker, and its title set back.
    renamed = {"cancellation_policy": {"title": f"Flexible {policy_marker(text)}"}}
    assert channex.sim.put(f"/api/v1/cancellation_policies/{policy['id']}", renamed).is_success
    third = channex.provision(catalog, first.remote_property_id, policies="linked")
    made = [item for item in third.items if item.kind == "cancellation_policy"]
    assert [(item.remote_id, item.action, item.changed) for item in made] == [
        (policy["id"], "updated", ("title",))
    ]
    (back,) = channex.listed("/api/v1/cancellation_policies")
    assert back["title"] == policy_title(text)


def test_changed_attributes_are_updated_in_place(channex: Channex) -> None:
    first = channex.provision()
    changed = dataclasses.replace(
        CATALOG,
        account_title="Acme Resorts (innsync 0123456789ab)",
        title="Harbour View",
        currency="USD",
        room_types=(dataclasses.replace(DOUBLE, units=7, max_adults=2), SINGLE),
        rate_plans=(
            BAR,
            dataclasses.replace(PER_PERSON, pricing="per_room", occupancies=()),
        ),
    )
    second = channex.provision(changed, first.remote_property_id)

    actions = {(item.kind, item.key): (item.action, item.changed) for item in second.items}
    assert actions == {
        ("account", None): ("updated", ("title",)),
        ("property", None): ("updated", ("title", "currency")),
        ("room_type", "rt-double"): ("updated", ("count_of_rooms", "occ_adults")),
        ("room_type", "rt-single"): ("matched", ()),
        # The per-room plan's one option follows the room's occ_adults down to 2.
        ("rate_plan", "rp-bar"): ("updated", ("options",)),
        ("rate_plan", "rp-pp"): ("updated", ("sell_mode",)),
    }
    assert second.remote_ids("rate_plan") == first.remote_ids("rate_plan")
    assert [g["title"] for g in channex.listed("/api/v1/groups")] == [
        "Acme Resorts (innsync 0123456789ab)"
    ]
    (prop,) = channex.listed("/api/v1/properties")
    assert (prop["title"], prop["currency"]) == ("Harbour View", "USD")
    rooms = by_title(channex.listed("/api/v1/room_types"))
    assert (rooms["Double"]["count_of_rooms"], rooms["Double"]["occ_adults"]) == (7, 2)
    plans = by_title(channex.listed("/api/v1/rate_plans"))
    assert [o["occupancy"] for o in plans["BAR"]["options"]] == [2]
    assert plans["Single per person"]["sell_mode"] == "per_room"
    puts = [path for method, path in channex.writes() if method == "PUT"]
    assert len(puts) == 5


def test_the_meal_plan_goes_as_meal_type_and_follows_a_change(channex: Channex) -> None:
    breakfast = dataclasses.replace(BAR, meal_plan="breakfast", cancellation_policy="Free")
    first = channex.provision(dataclasses.replace(CATALOG, rate_plans=(breakfast, PER_PERSON)))
    plans = by_title(channex.listed("/api/v1/rate_plans"))
    assert (plans["BAR"]["meal_type"], plans["Single per person"]["meal_type"]) == (
        "breakfast",
        "room_only",
    )

    half_board = dataclasses.replace(breakfast, meal_plan="half_board")
    second = channex.provision(
        dataclasses.replace(CATALOG, rate_plans=(half_board, PER_PERSON)),
        first.remote_property_id,
    )
    changed = {item.key: item.changed for item in second.items if item.kind == "rate_plan"}
    assert changed == {"rp-bar": ("meal_type",), "rp-pp": ()}
    assert by_title(channex.listed("/api/v1/rate_plans"))["BAR"]["meal_type"] == "half_board"
    # §1.4 has no cancellation-policy field on a rate plan: the text is not sent anywhere.
    assert not [p for p in channex.listed("/api/v1/rate_plans") if "Free" in str(p)]


def test_a_property_is_matched_by_title_within_the_tenant_group_only(channex: Channex) -> None:
    # Another tenant's hotel of the same name lives in another group: it is not taken.
    other = dataclasses.replace(
        CATALOG,
        account_title="Other (innsync ffffffffffff)",
        account_marker="innsync ffffffffffff",
    )
    theirs = channex.provision(other)
    ours = channex.provision()
    assert ours.remote_property_id != theirs.remote_property_id
    # Without a stored id, our own hotel is found again by its title in our group.
    assert channex.provision().remote_property_id == ours.remote_property_id
    assert len(channex.listed("/api/v1/properties")) == 2


def test_a_stored_property_id_that_channex_does_not_know_is_replaced(channex: Channex) -> None:
    result = channex.provision(property_id="5f0c3c56-1c1f-4d4e-9a51-0d6a4c6a0001")
    assert result.items[1].action == "created"
    assert dict(result.config_updates) == {"property_id": result.remote_property_id}


def test_a_plan_titled_like_one_of_another_room_type_is_a_clear_rejection(
    channex: Channex,
) -> None:
    first = channex.provision()
    moved = dataclasses.replace(BAR, room_type_key="rt-single")
    with pytest.raises(ChannelRejectedError, match=r"'BAR'.*belongs to room type"):
        channex.provision(
            dataclasses.replace(CATALOG, rate_plans=(moved, PER_PERSON)),
            first.remote_property_id,
        )


def test_the_remote_catalog_follows_every_page(channex: Channex) -> None:
    result = channex.provision()
    property_id = result.remote_property_id
    for number in range(103):
        response = channex.sim.post(
            "/api/v1/room_types", room_type_body(property_id, f"Extra {number:03}")
        )
        assert response.status_code == 201, response.text

    catalog = channex.run(lambda adapter: adapter.read_remote_catalog(), property_id)

    assert catalog.remote_property_id == property_id
    assert len(catalog.room_types) == 105
    assert len({room.remote_id for room in catalog.room_types}) == 105
    double = next(room for room in catalog.room_types if room.title == "Double")
    assert (double.units, double.max_adults, double.max_children, double.default_occupancy) == (
        5,
        3,
        1,
        2,
    )
    plans = {plan.title: plan for plan in catalog.rate_plans}
    assert plans["Single per person"].pricing == "per_person"
    assert plans["Single per person"].occupancies == (1,)
    assert plans["BAR"].room_type_remote_id == double.remote_id
    assert plans["BAR"].primary_occupancy == 3
    log = channex.sim.get("/_sim/requests").json()["data"]
    pages = [row for row in log if row["method"] == "GET" and row["path"] == "/api/v1/room_types"]
    assert len(pages) == 2 + 1  # two pages for the catalog, one when provisioning


def test_the_remote_catalog_needs_a_property(channex: Channex) -> None:
    with pytest.raises(MappingMissingError, match="provision it"):
        channex.run(lambda adapter: adapter.read_remote_catalog())
    assert channex.sim.get("/_sim/requests").json()["data"] == []


def test_a_wrong_key_is_an_auth_error_and_nothing_is_created(channex: Channex) -> None:
    with pytest.raises(ChannelAuthError, match="401"):
        channex.run(lambda adapter: adapter.provision_property(CATALOG), key="wrong-key")
    assert channex.listed("/api/v1/groups") == []


def test_connection_test_before_provisioning_checks_the_key(channex: Channex) -> None:
    assert channex.run(lambda adapter: adapter.test_connection()) is None
    with pytest.raises(ChannelAuthError):
        channex.run(lambda adapter: adapter.test_connection(), key="wrong-key")


def test_provisioning_and_the_catalog_are_capabilities() -> None:
    adapter = ChannexAdapter(ChannexConfig(api_key=KEY), httpx.AsyncClient())
    assert {"provisions_property", "reads_remote_catalog"} <= capabilities_of(adapter)

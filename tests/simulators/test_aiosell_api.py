"""Aiosell simulator: auth, the update endpoints, fetch and push (§1.3 to §1.10)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.simulators.aiosell_support import (
    HOTEL,
    PARTNER,
    PASSWORD,
    USERNAME,
    basic,
    build,
    inventory_body,
    rates_body,
)

INVENTORY = f"/api/v2/cm/update/{PARTNER}"
RATES = f"/api/v2/cm/update-rates/{PARTNER}"
DATA = f"/api/v2/cm/data/{PARTNER}"
PUSH = f"/api/v2/cm/push/{PARTNER}"


@pytest.mark.parametrize(
    "auth",
    ["", basic(USERNAME, "wrong"), basic("someone", PASSWORD), "Basic !!!", "Bearer x"],
    ids=["missing", "wrong-password", "wrong-user", "garbled", "not-basic"],
)
def test_bad_credentials_are_refused_with_400(auth: str) -> None:
    sim = build()
    response = sim.post(INVENTORY, inventory_body(), auth=auth)
    assert response.status_code == 400
    assert response.json() == {"success": False, "message": "Authentication Required!"}
    assert sim.get("/_sim/ari").json()["data"] == {}


def test_another_partner_slug_and_a_disabled_partner_are_refused() -> None:
    sim = build()
    response = sim.post("/api/v2/cm/update/other-pms", inventory_body())
    assert response.json()["message"] == "Authentication Required!"
    disabled = build(is_partner_disabled=True, auth_failure_status=401)
    refused = disabled.post(INVENTORY, inventory_body())
    assert refused.status_code == 401
    assert refused.json() == {"success": False, "message": "Partner is disabled!"}


def test_inventory_push_stores_each_day_inclusive() -> None:
    sim = build()
    response = sim.post(INVENTORY, inventory_body(available=4))
    assert response.status_code == 200
    assert response.json() == {"success": True, "message": "Inventory Updated Successfully"}
    shown = sim.get("/_sim/ari").json()["data"][HOTEL]["inventory"]
    assert shown == {"EXECUTIVE": {"2030-03-01": 4, "2030-03-02": 4, "2030-03-03": 4}}


def test_room_restrictions_merge_partial_objects_and_to_channels_is_optional() -> None:
    sim = build()
    first = inventory_body(restrictions={"stopSell": True, "minimumStay": 2})
    first["updates"][0]["rooms"][0].pop("available")
    assert sim.post(INVENTORY, first).status_code == 200
    second = inventory_body(restrictions={"closeOnArrival": True})
    second["toChannels"] = ["agoda", "booking.com"]
    assert sim.post(INVENTORY, second).status_code == 200
    shown = sim.get("/_sim/ari").json()["data"][HOTEL]
    day = shown["room_restrictions"]["EXECUTIVE"]["2030-03-02"]
    assert day == {"stopSell": True, "minimumStay": 2, "closeOnArrival": True}
    assert shown["inventory"]["EXECUTIVE"]["2030-03-02"] == 4


def test_to_channels_can_be_required() -> None:
    sim = build(requires_to_channels=True)
    body = inventory_body(restrictions={"stopSell": True})
    assert sim.post(INVENTORY, body).json()["message"] == "toChannels must be a non-empty array"
    body["toChannels"] = []
    assert sim.post(INVENTORY, body).status_code == 400
    body["toChannels"] = ["agoda"]
    assert sim.post(INVENTORY, body).status_code == 200


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"hotelCode": "NOPE"}, "Invalid hotelCode: NOPE"),
        ({"hotelCode": None}, "hotelCode is required"),
        ({"updates": []}, "updates must be a non-empty array"),
    ],
)
def test_inventory_body_refusals(change: dict[str, Any], message: str) -> None:
    sim = build()
    response = sim.post(INVENTORY, {**inventory_body(), **change})
    assert response.status_code == 400
    assert response.json() == {"success": False, "message": message}


@pytest.mark.parametrize(
    ("room", "message"),
    [
        ({"roomCode": "PENTHOUSE"}, "Invalid roomCode: PENTHOUSE"),
        ({"available": -1}, "updates[0].rooms[0].available must be a non-negative integer"),
        ({"available": "4"}, "updates[0].rooms[0].available must be a non-negative integer"),
        (
            {"restrictions": {"stopSell": "yes"}},
            "updates[0].rooms[0].restrictions.stopSell must be a boolean",
        ),
        (
            {"restrictions": {"upgrade": 1}},
            "updates[0].rooms[0].restrictions.upgrade is not a restriction",
        ),
    ],
)
def test_inventory_item_refusals_change_nothing(room: dict[str, Any], message: str) -> None:
    sim = build()
    body = inventory_body()
    body["updates"].append(
        {"startDate": "2030-04-01", "endDate": "2030-04-01", "rooms": [{"roomCode": "SUITE"}]}
    )
    body["updates"][1]["rooms"][0].update({"available": 1, **room})
    response = sim.post(INVENTORY, body)
    assert response.status_code == 400
    assert response.json()["message"] == message.replace("updates[0]", "updates[1]")
    assert sim.get("/_sim/ari").json()["data"] == {}


def test_dates_are_checked() -> None:
    sim = build()
    body = inventory_body()
    body["updates"][0]["endDate"] = "2030-02-28"
    assert sim.post(INVENTORY, body).json()["message"] == "updates[0].endDate is before startDate"
    body["updates"][0]["endDate"] = "03/05/2030"
    assert "not a YYYY-MM-DD date" in sim.post(INVENTORY, body).json()["message"]
    assert sim.post(INVENTORY, content=b"{not json").json()["message"] == "Invalid JSON body"


def test_rates_and_rate_restrictions_are_stored_per_rate_plan_and_day() -> None:
    sim = build()
    response = sim.post(RATES, rates_body())
    assert response.json() == {"success": True, "message": "Rates Updated Successfully"}
    restricted = rates_body(restrictions={"stopSell": True, "minimumAdvanceReservation": None})
    restricted["updates"][0]["rates"][0].pop("rate")
    assert sim.post(RATES, restricted).status_code == 200
    shown = sim.get("/_sim/ari").json()["data"][HOTEL]
    assert shown["rates"] == {
        "EXECUTIVE": {"EXECUTIVE-S-101": {"2030-03-01": 3500.0, "2030-03-02": 3500.0}}
    }
    day = shown["rate_restrictions"]["EXECUTIVE"]["EXECUTIVE-S-101"]["2030-03-01"]
    assert day == {"stopSell": True, "minimumAdvanceReservation": None}


@pytest.mark.parametrize(
    ("rate", "message"),
    [
        (
            {"rateplanCode": "SUITE-S-101"},
            "Invalid rateplanCode: SUITE-S-101 for roomCode EXECUTIVE",
        ),
        ({"rateplanCode": None}, "updates[0].rates[0].rateplanCode is required"),
        ({"rate": -5}, "updates[0].rates[0].rate must be a non-negative number"),
        ({"rate": True}, "updates[0].rates[0].rate must be a non-negative number"),
        (
            {"restrictions": {"minimumStay": 1.5}},
            "updates[0].rates[0].restrictions.minimumStay must be a non-negative integer",
        ),
    ],
)
def test_rate_refusals(rate: dict[str, Any], message: str) -> None:
    sim = build()
    response = sim.post(RATES, rates_body(**rate))
    assert response.status_code == 400
    assert response.json() == {"success": False, "message": message}
    assert sim.get("/_sim/ari").json()["data"] == {}


def test_unmapped_codes_pass_when_validation_is_off() -> None:
    sim = build(validates_codes=False)
    assert sim.post(RATES, rates_body(rateplanCode="ANY-PLAN")).status_code == 200


def test_fetch_returns_single_day_ranges() -> None:
    sim = build()
    sim.post(RATES, rates_body())
    sim.post(INVENTORY, inventory_body())
    query = {"hotelCode": HOTEL, "startDate": "2030-03-02", "endDate": "2030-03-05"}
    rates = sim.post(DATA, {"type": "rates", **query}).json()
    assert rates == {
        "hotelCode": HOTEL,
        "updates": [
            {
                "startDate": "2030-03-02",
                "endDate": "2030-03-02",
                "rates": [
                    {"roomCode": "EXECUTIVE", "rateplanCode": "EXECUTIVE-S-101", "rate": 3500.0}
                ],
            }
        ],
    }
    inventory = sim.post(DATA, {"type": "inventory", **query}).json()
    assert [u["startDate"] for u in inventory["updates"]] == ["2030-03-02", "2030-03-03"]
    assert sim.post(DATA, {"type": "hotels", **query}).status_code == 400


def reservation(action: str = "book", **fields: Any) -> dict[str, Any]:
    return {
        "action": action,
        "hotelCode": HOTEL,
        "channel": "Goibibo",
        "bookingId": "GO1234567",
        "checkin": "2030-03-01",
        "checkout": "2030-03-03",
        **fields,
    }


def test_push_books_rejects_a_duplicate_and_is_fetched_back() -> None:
    sim = build()
    response = sim.post(PUSH, reservation())
    assert response.json() == {"success": True, "message": "Reservation Updated Successfully"}
    duplicate = sim.post(PUSH, reservation())
    assert duplicate.status_code == 400
    assert duplicate.json()["message"] == "Duplicate bookingId: GO1234567"
    assert sim.post(PUSH, reservation("cancel", bookingId="OTHER")).status_code == 400
    assert sim.post(PUSH, reservation("cancel")).status_code == 200
    query = {"hotelCode": HOTEL, "startDate": "2030-03-02", "endDate": "2030-03-02"}
    found = sim.post(DATA, {"type": "reservation", **query}).json()
    assert [(r["bookingId"], r["action"]) for r in found] == [("GO1234567", "cancel")]
    assert build(rejects_duplicate_push=False).post(PUSH, reservation()).status_code == 200

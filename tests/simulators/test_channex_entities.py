"""Channex simulator: auth, error envelopes, and groups / properties / room types / rate plans."""

from __future__ import annotations

from tests.simulators.conftest import API_KEY, Sim, SimClient, create_hotel, room_type_body

UNAUTHORIZED = {"errors": {"code": "unauthorized", "title": "Unauthorized"}}


def test_missing_or_wrong_api_key_is_401_and_changes_nothing(sim: Sim) -> None:
    anonymous = SimClient(sim.app, api_key=None)
    wrong = SimClient(sim.app, api_key="not-the-key")
    body = {"property": {"title": "Seaside", "currency": "EUR"}}

    missing_response = anonymous.post("/api/v1/properties", body)
    wrong_response = wrong.post("/api/v1/properties", body)
    # §1.2: the rate-limit page's "x-api-key" is wrong; only user-api-key authenticates.
    other_header = anonymous.request(
        "POST", "/api/v1/properties", json_body=body, headers={"x-api-key": API_KEY}
    )

    for response in (missing_response, wrong_response, other_header):
        assert response.status_code == 401
        assert response.json() == UNAUTHORIZED
    listed = sim.client.get("/api/v1/properties").json()
    assert listed == {"data": [], "meta": {"page": 1, "limit": 10, "total": 0}}
    statuses = [r["status"] for r in sim.client.get("/_sim/requests").json()["data"]]
    assert statuses == [401, 401, 401, 200]


def test_validation_errors_use_the_channex_envelope(sim: Sim) -> None:
    response = sim.client.post(
        "/api/v1/properties", {"property": {"currency": "euro", "phone": "1" * 33}}
    )

    assert response.status_code == 422
    assert response.json() == {
        "errors": {
            "code": "validation_error",
            "title": "Validation Error",
            "details": {
                "title": ["can't be blank"],
                "phone": ["should be at most 32 character(s)"],
                "currency": ["is invalid"],
            },
        }
    }
    assert sim.client.get("/api/v1/properties").json()["meta"]["total"] == 0


def test_malformed_json_is_400_with_details_as_a_list(sim: Sim) -> None:
    response = sim.client.request("POST", "/api/v1/properties", content=b"{not json")

    assert response.status_code == 400
    assert response.json() == {
        "errors": {
            "code": "bad_request",
            "title": "Bad Request",
            "details": ["malformed JSON body"],
        }
    }


def test_unknown_entity_and_unknown_route_are_404(sim: Sim) -> None:
    expected = {"errors": {"code": "not_found", "title": "Resouce Not Found"}}

    assert sim.client.get("/api/v1/properties/nope").json() == expected
    assert sim.client.get("/api/v1/no_such_thing").status_code == 404
    assert sim.client.get("/api/v1/no_such_thing").json() == expected


def test_property_joins_a_default_group_and_the_group_cannot_be_deleted_while_used(
    sim: Sim,
) -> None:
    created = sim.client.post(
        "/api/v1/properties", {"property": {"title": "Seaside", "currency": "EUR"}}
    )
    assert created.status_code == 201
    data = created.json()["data"]
    assert data["type"] == "property"
    assert data["attributes"]["settings"]["state_length"] == 500
    group_refs = data["relationships"]["groups"]["data"]
    assert len(group_refs) == 1
    group_id = group_refs[0]["id"]

    refused = sim.client.delete(f"/api/v1/groups/{group_id}")
    assert refused.status_code == 400
    assert refused.json()["errors"]["code"] == "bad_request"
    assert sim.client.get(f"/api/v1/groups/{group_id}").status_code == 200

    sim.client.delete(f"/api/v1/properties/{data['id']}")
    assert sim.client.delete(f"/api/v1/groups/{group_id}").json() == {
        "meta": {"message": "Success"}
    }
    assert sim.client.get(f"/api/v1/groups/{group_id}").status_code == 404


def test_room_types_list_pages_and_orders_by_title(sim: Sim) -> None:
    prop = sim.client.post(
        "/api/v1/properties", {"property": {"title": "Seaside", "currency": "EUR"}}
    )
    property_id = prop.json()["data"]["id"]
    for title in ("Suite", "Double", "Twin"):
        sim.client.post("/api/v1/room_types", room_type_body(property_id, title))

    page = sim.client.get(
        "/api/v1/room_types",
        {"filter[property_id]": property_id, "pagination[page]": "2", "pagination[limit]": "2"},
    ).json()
    descending = sim.client.get("/api/v1/room_types", {"order[title]": "desc"}).json()

    assert page["meta"] == {"page": 2, "limit": 2, "total": 3}
    assert [item["attributes"]["title"] for item in page["data"]] == ["Twin"]
    assert [item["attributes"]["title"] for item in descending["data"]] == [
        "Twin",
        "Suite",
        "Double",
    ]


def test_room_type_update_is_partial_and_validated(sim: Sim) -> None:
    hotel = create_hotel(sim.client)

    updated = sim.client.put(
        f"/api/v1/room_types/{hotel.twin_id}", {"room_type": {"title": "Twin+"}}
    )
    refused = sim.client.put(
        f"/api/v1/room_types/{hotel.twin_id}", {"room_type": {"default_occupancy": 3}}
    )

    assert updated.status_code == 200
    assert updated.json()["data"]["attributes"]["title"] == "Twin+"
    assert updated.json()["data"]["attributes"]["count_of_rooms"] == 8
    assert refused.status_code == 422
    assert refused.json()["errors"]["details"] == {
        "default_occupancy": ["must be less than or equal to 2"]
    }
    current = sim.client.get(f"/api/v1/room_types/{hotel.twin_id}").json()["data"]["attributes"]
    assert current["default_occupancy"] == 2


def test_rate_plan_options_list_one_entry_per_occupancy(sim: Sim) -> None:
    hotel = create_hotel(sim.client)

    options = sim.client.get(
        "/api/v1/rate_plans/options", {"filter[property_id]": hotel.property_id}
    ).json()["data"]

    assert sorted((o["id"], o["attributes"]["occupancy"]) for o in options) == sorted(
        [(hotel.twin_bar_id, 2), (hotel.double_pp_id, 2), (hotel.double_pp_id, 1)]
    )
    plan = sim.client.get(f"/api/v1/rate_plans/{hotel.double_pp_id}").json()["data"]
    assert plan["attributes"]["sell_mode"] == "per_person"
    assert plan["attributes"]["options"] == [
        {"occupancy": 2, "is_primary": True, "derived_option": None, "rate": "120.00"},
        {"occupancy": 1, "is_primary": False, "derived_option": None, "rate": "90.00"},
    ]
    # §1.4: defaults for new dates, and the currency taken from the property.
    assert plan["attributes"]["currency"] == "EUR"
    assert plan["attributes"]["min_stay_arrival"] == 1
    assert plan["attributes"]["max_stay"] == 0


def test_rate_plan_rules_refuse_bad_options_and_duplicate_titles(sim: Sim) -> None:
    hotel = create_hotel(sim.client)
    base = {"property_id": hotel.property_id, "room_type_id": hotel.twin_id}

    two_options_per_room = sim.client.post(
        "/api/v1/rate_plans",
        {
            "rate_plan": {
                **base,
                "title": "Other",
                "options": [
                    {"occupancy": 2, "is_primary": True},
                    {"occupancy": 1, "is_primary": False},
                ],
            }
        },
    )
    duplicate_title = sim.client.post(
        "/api/v1/rate_plans",
        {
            "rate_plan": {
                **base,
                "title": "Twin BAR",
                "options": [{"occupancy": 3, "is_primary": True}],
            }
        },
    )

    assert two_options_per_room.status_code == 422
    assert two_options_per_room.json()["errors"]["details"] == {
        "options": ["a per_room rate plan has exactly one option"]
    }
    assert duplicate_title.json()["errors"]["details"] == {
        "title": ["has already been taken"],
        "options.0.occupancy": ["must be less than or equal to 2"],
    }
    listed = sim.client.get("/api/v1/rate_plans", {"filter[property_id]": hotel.property_id})
    assert listed.json()["meta"]["total"] == 2


def test_a_room_type_an_ota_sells_is_deleted_only_with_force(sim: Sim) -> None:
    hotel = create_hotel(sim.client)
    connected = sim.client.post(
        "/_sim/channels",
        {
            "property_id": hotel.property_id,
            "channel": "BookingCom",
            "rate_plan_ids": [hotel.twin_bar_id],
        },
    )
    assert connected.status_code == 201, connected.text
    channel_id = connected.json()["data"]["id"]

    refused = sim.client.delete(f"/api/v1/room_types/{hotel.twin_id}")
    assert refused.status_code == 422
    assert refused.json()["errors"]["details"] == {"room_type": ["has channel(s)"]}
    assert sim.client.get(f"/api/v1/room_types/{hotel.twin_id}").status_code == 200
    # A room type no OTA sells goes at once, its rate plans with it.
    assert sim.client.delete(f"/api/v1/room_types/{hotel.double_id}").status_code == 200
    assert sim.client.get(f"/api/v1/rate_plans/{hotel.double_pp_id}").status_code == 404

    forced = sim.client.delete(f"/api/v1/room_types/{hotel.twin_id}?force=true")
    assert forced.status_code == 200, forced.text
    assert sim.client.get(f"/api/v1/rate_plans/{hotel.twin_bar_id}").status_code == 404
    channel = sim.client.get(f"/api/v1/channels/{channel_id}").json()["data"]
    assert channel["attributes"]["rate_plan_ids"] == []

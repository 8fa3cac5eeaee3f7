"""Channex simulator: booking revisions, the feed and the ack (§1.6)."""

from __future__ import annotations

from typing import Any

from tests.simulators.conftest import Hotel, Sim, SimFactory, create_hotel, day


def book(sim: Sim, hotel: Hotel, **extra: Any) -> dict[str, Any]:
    response = sim.client.post(
        "/_sim/bookings",
        {
            "property_id": hotel.property_id,
            "room_type_id": hotel.twin_id,
            "rate_plan_id": hotel.twin_bar_id,
            "arrival_date": day(10),
            "departure_date": day(12),
            **extra,
        },
    )
    assert response.status_code == 201, response.text
    revision: dict[str, Any] = response.json()["data"][0]
    return revision


def feed(sim: Sim, **params: str) -> dict[str, Any]:
    response = sim.client.get("/api/v1/booking_revisions/feed", params)
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def test_booking_create_feed_get_ack(sim: Sim) -> None:
    hotel = create_hotel(sim.client)
    sim.client.post(
        "/api/v1/restrictions",
        {
            "values": [
                {
                    "property_id": hotel.property_id,
                    "rate_plan_id": hotel.twin_bar_id,
                    "date": day(11),
                    "rate": "130.00",
                }
            ]
        },
    )

    revision = book(sim, hotel)
    revision_id = revision["id"]
    attributes = revision["attributes"]

    assert revision["type"] == "booking_revision"
    assert attributes["status"] == "new"
    assert attributes["amount"] == "230.00"
    assert attributes["currency"] == "EUR"
    assert attributes["inserted_at"] == "2030-01-07T09:00:00.000000"
    assert attributes["rooms"][0]["days"] == {day(10): "100.00", day(11): "130.00"}
    assert attributes["unique_id"] == f"BDC-{attributes['ota_reservation_code']}"
    listed = feed(sim)
    assert [item["id"] for item in listed["data"]] == [revision_id]
    assert listed["meta"] == {"page": 1, "limit": 10, "total": 1}
    one = sim.client.get(f"/api/v1/booking_revisions/{revision_id}").json()
    assert one == {"data": revision}

    ack = sim.client.post(f"/api/v1/booking_revisions/{revision_id}/ack", {})

    assert ack.status_code == 200
    assert ack.json() == {"meta": {"message": "Success"}}
    assert feed(sim)["data"] == []
    inspected = sim.client.get("/_sim/bookings").json()["data"]
    assert [(b["revision_id"], b["acked_at"], b["is_in_feed"]) for b in inspected] == [
        (revision_id, "2030-01-07T09:00:00+00:00", False)
    ]
    # An acked revision can still be read by id (§1.6 "GET /booking_revisions/:id").
    assert sim.client.get(f"/api/v1/booking_revisions/{revision_id}").status_code == 200


def test_ack_of_an_unknown_revision_is_404(sim: Sim) -> None:
    response = sim.client.post("/api/v1/booking_revisions/nope/ack", {})

    assert response.status_code == 404
    assert response.json() == {"errors": {"code": "not_found", "title": "Resouce Not Found"}}


def test_modification_and_cancellation_share_the_booking_id(sim: Sim) -> None:
    hotel = create_hotel(sim.client)
    created = book(sim, hotel)
    booking_id = created["attributes"]["booking_id"]

    sim.clock.advance(minutes=1)
    modified = sim.client.post(f"/_sim/bookings/{booking_id}/modify", {"departure_date": day(13)})
    sim.clock.advance(minutes=1)
    cancelled = sim.client.post(f"/_sim/bookings/{booking_id}/cancel")
    again = sim.client.post(f"/_sim/bookings/{booking_id}/cancel")

    revisions = [created, modified.json()["data"][0], cancelled.json()["data"][0]]
    assert [r["attributes"]["status"] for r in revisions] == ["new", "modified", "cancelled"]
    assert {r["attributes"]["booking_id"] for r in revisions} == {booking_id}
    assert len({r["id"] for r in revisions}) == 3
    assert len({r["attributes"]["system_id"] for r in revisions}) == 3
    assert {r["attributes"]["unique_id"] for r in revisions} == {created["attributes"]["unique_id"]}
    assert revisions[1]["attributes"]["rooms"][0]["days"] == {
        day(10): "100.00",
        day(11): "100.00",
        day(12): "100.00",
    }
    assert revisions[2]["attributes"]["departure_date"] == day(13)
    assert again.status_code == 422
    oldest_first = feed(sim, **{"order[inserted_at]": "asc"})
    assert [item["id"] for item in oldest_first["data"]] == [r["id"] for r in revisions]
    newest_first = feed(sim)  # the default order (config.feed_default_order)
    assert [item["id"] for item in newest_first["data"]] == [r["id"] for r in reversed(revisions)]
    booking = sim.client.get(f"/api/v1/bookings/{booking_id}").json()["data"]
    assert (booking["type"], booking["id"], booking["attributes"]["status"]) == (
        "booking",
        booking_id,
        "cancelled",
    )


def test_feed_pages_by_ten_and_filters_by_property(sim: Sim) -> None:
    hotel, other = create_hotel(sim.client), create_hotel(sim.client)
    generated = sim.client.post(
        "/_sim/bookings/generate", {"count": 12, "property_id": hotel.property_id}
    )
    book(sim, other)

    first = feed(sim, **{"filter[property_id]": hotel.property_id, "order[inserted_at]": "asc"})
    second = feed(
        sim,
        **{
            "filter[property_id]": hotel.property_id,
            "order[inserted_at]": "asc",
            "pagination[page]": "2",
        },
    )

    ids = [r["id"] for r in generated.json()["data"]]
    assert first["meta"] == {"page": 1, "limit": 10, "total": 12}
    assert [r["id"] for r in first["data"] + second["data"]] == ids
    assert feed(sim)["meta"]["total"] == 13


def test_unacked_revisions_leave_the_feed_after_thirty_minutes_by_default(
    make_sim: SimFactory,
) -> None:
    for drop_after, expected_total in ((1800.0, 0), (None, 1)):
        sim = make_sim(feed_drops_unacked_after_seconds=drop_after)
        hotel = create_hotel(sim.client)
        revision = book(sim, hotel)

        sim.clock.advance(minutes=29, seconds=59)
        assert feed(sim)["meta"]["total"] == 1
        sim.clock.advance(seconds=1)

        assert feed(sim)["meta"]["total"] == expected_total
        # Dropped from the feed, the revision can still be read and acked.
        assert sim.client.post(f"/api/v1/booking_revisions/{revision['id']}/ack").status_code == 200


def test_generator_is_deterministic_for_a_seed(make_sim: SimFactory) -> None:
    def run(seed: int) -> list[tuple[str, str, str, str, str]]:
        sim = make_sim(seed=seed)
        create_hotel(sim.client)
        response = sim.client.post(
            "/_sim/bookings/generate", {"count": 20, "modify_rate": 0.2, "cancel_rate": 0.2}
        )
        return [
            (
                r["attributes"]["booking_id"],
                r["attributes"]["status"],
                r["attributes"]["arrival_date"],
                r["attributes"]["departure_date"],
                r["attributes"]["amount"],
            )
            for r in response.json()["data"]
        ]

    first, again, other = run(11), run(11), run(12)

    assert first == again
    assert first != other
    statuses = [status for _, status, *_ in first]
    assert len(statuses) == 20
    assert {"new", "modified", "cancelled"} <= set(statuses)
    bookings = [booking_id for booking_id, status, *_ in first if status == "new"]
    assert len(bookings) == len(set(bookings))


def test_confirmation_autoupdate_takes_availability_when_enabled(sim: Sim) -> None:
    settings = {
        "allow_availability_autoupdate_on_confirmation": True,
        "allow_availability_autoupdate_on_cancellation": True,
    }
    hotel = create_hotel(sim.client, settings=settings)
    sim.client.post(
        "/api/v1/availability",
        {
            "values": [
                {
                    "property_id": hotel.property_id,
                    "room_type_id": hotel.twin_id,
                    "date_from": day(9),
                    "date_to": day(12),
                    "availability": 3,
                }
            ]
        },
    )

    def twin() -> dict[str, int]:
        response = sim.client.get(
            "/api/v1/availability",
            {
                "filter[property_id]": hotel.property_id,
                "filter[date][gte]": day(9),
                "filter[date][lte]": day(12),
            },
        )
        counts: dict[str, int] = response.json()["data"][hotel.twin_id]
        return counts

    booking_id = book(sim, hotel)["attributes"]["booking_id"]
    after_booking = twin()
    sim.client.post(f"/_sim/bookings/{booking_id}/cancel")

    assert after_booking == {day(9): 3, day(10): 2, day(11): 2, day(12): 3}
    assert twin() == {day(9): 3, day(10): 3, day(11): 3, day(12): 3}


def test_control_booking_refuses_a_rate_plan_of_another_room_type(sim: Sim) -> None:
    hotel = create_hotel(sim.client)

    response = sim.client.post(
        "/_sim/bookings",
        {
            "property_id": hotel.property_id,
            "room_type_id": hotel.twin_id,
            "rate_plan_id": hotel.double_pp_id,
            "arrival_date": day(3),
            "departure_date": day(3),
        },
    )

    assert response.status_code == 422
    assert response.json()["errors"]["details"] == {
        "rate_plan_id": ["not found"],
        "departure_date": ["must be after arrival_date"],
    }
    assert sim.client.get("/_sim/bookings").json() == {"data": []}

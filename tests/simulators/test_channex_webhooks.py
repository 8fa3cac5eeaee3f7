"""Channex simulator: webhook subscriptions and delivery (§1.7)."""

from __future__ import annotations

from typing import Any

from tests.simulators.conftest import Hotel, Sim, SimFactory, create_hotel, day

SECRET = {"x-innsync-secret": "s3cret"}


def subscribe(sim: Sim, hotel: Hotel, **fields: Any) -> dict[str, Any]:
    body = {
        "property_id": hotel.property_id,
        "callback_url": "https://pms.example/hooks/channex",
        "event_mask": "booking",
        "is_active": True,
        "send_data": True,
        "headers": SECRET,
        **fields,
    }
    response = sim.client.post("/api/v1/webhooks", {"webhook": body})
    assert response.status_code == 201, response.text
    webhook: dict[str, Any] = response.json()["data"]
    return webhook


def book(sim: Sim, hotel: Hotel) -> dict[str, Any]:
    response = sim.client.post(
        "/_sim/bookings",
        {
            "property_id": hotel.property_id,
            "room_type_id": hotel.twin_id,
            "rate_plan_id": hotel.twin_bar_id,
            "arrival_date": day(5),
            "departure_date": day(6),
        },
    )
    assert response.status_code == 201, response.text
    revision: dict[str, Any] = response.json()["data"][0]
    return revision


def deliveries(sim: Sim) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = sim.client.get("/_sim/webhooks/deliveries").json()["data"]
    return data


def test_subscription_defaults_and_documented_masks(sim: Sim) -> None:
    hotel = create_hotel(sim.client)
    created = sim.client.post(
        "/api/v1/webhooks",
        {
            "webhook": {
                "property_id": hotel.property_id,
                "callback_url": "https://pms.example/h",
                "event_mask": "*",
            }
        },
    )
    multi = sim.client.post(
        "/api/v1/webhooks",
        {
            "webhook": {
                "property_id": hotel.property_id,
                "callback_url": "ftp://pms.example/h",
                "event_mask": "booking_new;booking_cancellation",
            }
        },
    )
    global_hook = sim.client.post(
        "/api/v1/webhooks",
        {
            "webhook": {
                "property_id": None,
                "callback_url": "https://pms.example/h",
                "event_mask": "booking",
            }
        },
    )

    attributes = created.json()["data"]["attributes"]
    assert (attributes["is_active"], attributes["send_data"]) == (False, False)
    assert (attributes["request_params"], attributes["headers"]) == ({}, {})
    assert multi.status_code == 422
    assert multi.json()["errors"]["details"] == {
        "callback_url": ["is invalid"],
        "event_mask": ["is invalid"],
    }
    assert global_hook.json()["errors"]["details"] == {"property_id": ["can't be blank"]}
    assert sim.client.get("/api/v1/webhooks").json()["meta"]["total"] == 1


def test_multi_event_masks_and_global_subscriptions_when_configured(make_sim: SimFactory) -> None:
    sim = make_sim(webhook_multi_event_masks=True, webhook_global_subscriptions=True)
    hotel = create_hotel(sim.client)
    subscribe(sim, hotel, event_mask="booking_new;booking_cancellation", property_id=None)

    booking_id = book(sim, hotel)["attributes"]["booking_id"]
    sim.client.post(f"/_sim/bookings/{booking_id}/modify", {"departure_date": day(7)})
    sim.client.post(f"/_sim/bookings/{booking_id}/cancel")

    assert sim.receiver.events() == ["booking_new", "booking_cancellation"]


def test_booking_trigger_carries_ids_and_the_secret_header(sim: Sim) -> None:
    hotel = create_hotel(sim.client)
    subscribe(sim, hotel, request_params={"tenant": "t1"})
    subscribe(sim, hotel, is_active=False, callback_url="https://inactive.example/")

    revision = book(sim, hotel)

    assert len(sim.receiver.received) == 1
    received = sim.receiver.received[0]
    assert received.url == "https://pms.example/hooks/channex?tenant=t1"
    assert received.headers["x-innsync-secret"] == "s3cret"
    assert received.headers["content-type"] == "application/json"
    assert received.body == {
        "event": "booking",
        "payload": {
            "booking_id": revision["attributes"]["booking_id"],
            "property_id": hotel.property_id,
            "revision_id": revision["id"],
        },
        "property_id": hotel.property_id,
        "user_id": None,
        "timestamp": "2030-01-07T09:00:00.000000Z",
    }


def test_star_mask_without_data_gets_every_booking_event_without_payload(sim: Sim) -> None:
    hotel = create_hotel(sim.client)
    subscribe(sim, hotel, event_mask="*", send_data=False)

    book(sim, hotel)

    assert sim.receiver.events() == ["booking", "booking_new"]
    assert all("payload" not in item.body for item in sim.receiver.received)


def test_unmapped_room_event(sim: Sim) -> None:
    hotel = create_hotel(sim.client)
    subscribe(sim, hotel, event_mask="booking_unmapped_room")

    response = sim.client.post(
        "/_sim/bookings",
        {
            "property_id": hotel.property_id,
            "room_type_id": None,
            "rate_plan_id": None,
            "arrival_date": day(5),
            "departure_date": day(6),
        },
    )

    revision = response.json()["data"][0]
    assert [item.body["payload"] for item in sim.receiver.received] == [
        {"booking_id": revision["attributes"]["booking_id"], "booking_revision_id": revision["id"]}
    ]


def test_duplicates_are_delivered_twice_when_injected(sim: Sim) -> None:
    hotel = create_hotel(sim.client)
    subscribe(sim, hotel)
    sim.client.post("/_sim/faults", {"webhook_duplicate_rate": 1.0})

    first, second = book(sim, hotel), book(sim, hotel)

    revision_ids = [item.body["payload"]["revision_id"] for item in sim.receiver.received]
    assert revision_ids == [first["id"], first["id"], second["id"], second["id"]]
    attempts = [[a["is_duplicate"] for a in d["attempts"]] for d in deliveries(sim)]
    assert attempts == [[False, True], [False, True]]


def test_failed_deliveries_are_retried_on_schedule_then_given_up(sim: Sim) -> None:
    hotel = create_hotel(sim.client)
    subscribe(sim, hotel)
    sim.receiver.statuses = [500, 503, 500, 500]

    book(sim, hotel)
    assert deliveries(sim)[0]["next_attempt_at"] == "2030-01-07T09:01:00+00:00"
    sim.clock.advance(seconds=59)
    assert sim.client.post("/_sim/tick").json() == {"non_acked_published": 0, "attempts": 0}
    sim.clock.advance(seconds=1)
    assert sim.client.post("/_sim/tick").json()["attempts"] == 1  # second failure, +300 s next
    sim.clock.advance(seconds=300)
    sim.client.post("/_sim/tick")  # third failure, +1800 s next
    sim.clock.advance(seconds=1800)
    sim.client.post("/_sim/tick")  # fourth failure: the three retries are used up
    sim.clock.advance(hours=5)
    sim.client.post("/_sim/tick")

    delivery = deliveries(sim)[0]
    assert delivery["status"] == "failed"
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 503, 500, 500]
    assert len(sim.receiver.received) == 4


def test_a_retry_succeeds_after_an_injected_failure(sim: Sim) -> None:
    hotel = create_hotel(sim.client)
    subscribe(sim, hotel)
    sim.client.post("/_sim/faults", {"webhook_failure_rate": 1.0})
    book(sim, hotel)
    sim.client.post("/_sim/faults", {"webhook_failure_rate": 0.0})

    assert sim.receiver.received == []
    sim.clock.advance(minutes=1)
    sim.client.post("/_sim/tick")

    delivery = deliveries(sim)[0]
    assert delivery["status"] == "delivered"
    assert [(a["status_code"], a["error"]) for a in delivery["attempts"]] == [
        (None, "injected failure"),
        (200, None),
    ]
    assert sim.receiver.events() == ["booking"]


def test_reordering_lets_a_later_event_overtake(sim: Sim) -> None:
    hotel = create_hotel(sim.client)
    subscribe(sim, hotel)
    sim.client.post(
        "/_sim/faults", {"webhook_reorder_rate": 1.0, "webhook_reorder_delay_seconds": 30}
    )
    held = book(sim, hotel)
    sim.client.post("/_sim/faults", {"webhook_reorder_rate": 0.0})
    overtaking = book(sim, hotel)

    sim.clock.advance(seconds=30)
    sim.client.post("/_sim/tick")

    revision_ids = [item.body["payload"]["revision_id"] for item in sim.receiver.received]
    assert revision_ids == [overtaking["id"], held["id"]]


def test_non_acked_booking_fires_once_after_the_delay(sim: Sim) -> None:
    hotel = create_hotel(sim.client)
    subscribe(sim, hotel, event_mask="non_acked_booking")
    unacked = book(sim, hotel)
    acked = book(sim, hotel)
    sim.client.post(f"/api/v1/booking_revisions/{acked['id']}/ack")

    sim.clock.advance(minutes=29, seconds=59)
    before = sim.client.post("/_sim/tick").json()
    sim.clock.advance(seconds=1)
    at_delay = sim.client.post("/_sim/tick").json()
    sim.clock.advance(minutes=30)
    later = sim.client.post("/_sim/tick").json()

    assert before == {"non_acked_published": 0, "attempts": 0}
    assert at_delay == {"non_acked_published": 1, "attempts": 1}
    assert later == {"non_acked_published": 0, "attempts": 0}
    assert [item.body for item in sim.receiver.received] == [
        {
            "event": "non_acked_booking",
            "payload": {
                "booking_id": unacked["attributes"]["booking_id"],
                "property_id": hotel.property_id,
                "revision_id": unacked["id"],
            },
            "property_id": hotel.property_id,
            "user_id": None,
            "timestamp": "2030-01-07T09:30:00.000000Z",
        }
    ]


def test_webhook_test_endpoint_reports_the_receivers_answer(sim: Sim) -> None:
    hotel = create_hotel(sim.client)
    sim.receiver.statuses = [418]

    response = sim.client.post(
        "/api/v1/webhooks/test",
        {
            "webhook": {
                "property_id": hotel.property_id,
                "callback_url": "https://pms.example/t",
                "event_mask": "*",
                "headers": SECRET,
            }
        },
    )

    assert response.json() == {"status_code": 418, "body": "answered 418"}
    assert sim.receiver.received[0].headers["x-innsync-secret"] == "s3cret"
    assert sim.client.get("/api/v1/webhooks").json()["meta"]["total"] == 0

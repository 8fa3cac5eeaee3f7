"""Aiosell simulator: reservations sent to the PMS URL (§1.10, §1.11) with retries and faults."""

from __future__ import annotations

from typing import Any

from tests.simulators.aiosell_support import HOTEL, AiosellSim, basic, build


def book(sim: AiosellSim, **fields: Any) -> dict[str, Any]:
    response = sim.post("/_sim/reservations", fields)
    assert response.status_code == 201, response.text
    made: dict[str, Any] = response.json()["data"][0]
    return made


def deliveries(sim: AiosellSim) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = sim.get("/_sim/webhooks/deliveries").json()["data"]
    return data


def test_book_modify_cancel_are_posted_in_the_pms_format() -> None:
    sim = build()
    made = book(
        sim,
        room_code="EXECUTIVE",
        rateplan_code="EXECUTIVE-D-101",
        checkin="2030-03-01",
        nights=2,
    )
    booking_id = made["bookingId"]
    modified = sim.post(f"/_sim/reservations/{booking_id}/modify", {"nights": 3})
    assert modified.status_code == 201
    assert sim.post(f"/_sim/reservations/{booking_id}/cancel").status_code == 201
    bodies = sim.receiver.bodies
    assert [b["action"] for b in bodies] == ["book", "modify", "cancel"]
    first = bodies[0]
    assert first["hotelCode"] == HOTEL
    assert first["bookingId"] == booking_id
    assert first["rooms"][0]["rateplanCode"] == "EXECUTIVE-D-101"
    assert first["checkin"] == "2030-03-01"
    assert first["checkout"] == "2030-03-03"
    assert first["rooms"][0]["prices"] == [
        {"date": "2030-03-01", "sellRate": 3750.0},
        {"date": "2030-03-02", "sellRate": 3750.0},
    ]
    assert first["amount"] == {
        "amountAfterTax": 8400.0,
        "amountBeforeTax": 7500.0,
        "tax": 900.0,
        "currency": "INR",
    }
    assert first["bookedOn"] == "2030-01-07 09:00:00"
    assert len(bodies[1]["rooms"][0]["prices"]) == 3
    assert bodies[2]["guest"] == first["guest"]
    assert all(d["status"] == "delivered" for d in deliveries(sim))
    # No auth header unless configured.
    assert "authorization" not in sim.receiver.headers[0]


def test_minimal_cancel_and_basic_auth_toward_the_pms() -> None:
    sim = build(cancel_payload="minimal", webhook_username="aiosell", webhook_password="hook-pw")
    booking_id = book(sim)["bookingId"]
    sim.post(f"/_sim/reservations/{booking_id}/cancel")
    assert set(sim.receiver.bodies[1]) == {"action", "hotelCode", "channel", "bookingId"}
    assert sim.receiver.headers[0]["authorization"] == basic("aiosell", "hook-pw")


def test_new_booking_payload_variant() -> None:
    sim = build(webhook_payload="new_booking")
    made = book(sim)
    body = sim.receiver.bodies[0]
    assert body["operation"] == "new_booking"
    assert body["hotelId"] == HOTEL
    assert body["reservation"]["bookingId"] == made["bookingId"]
    assert body["reservation"]["CMBookingId"] == made["cmBookingId"]
    room = body["reservation"]["rooms"][0]
    assert room["rateplan"]["id"] == made["rooms"][0]["rateplanCode"]
    assert {"date", "sellRate", "tax"} == set(room["prices"][0])


def test_5xx_is_retried_on_schedule_then_delivered() -> None:
    sim = build(webhook_retry_delays_seconds=(30.0, 60.0))
    sim.receiver.statuses = [500, 503]
    book(sim)
    assert deliveries(sim)[0]["status"] == "pending"
    assert sim.post("/_sim/tick").json() == {"deliveries_attempted": 0}
    sim.clock.advance(seconds=30)
    assert sim.post("/_sim/tick").json() == {"deliveries_attempted": 1}
    sim.clock.advance(seconds=60)
    sim.post("/_sim/tick")
    delivery = deliveries(sim)[0]
    assert delivery["status"] == "delivered"
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 503, 200]
    assert len(sim.receiver.bodies) == 3


def test_retries_run_out_and_rejections_are_not_retried() -> None:
    sim = build(webhook_retry_delays_seconds=(10.0,))
    sim.receiver.statuses = [500, 500, 400]
    book(sim)
    sim.clock.advance(seconds=10)
    sim.post("/_sim/tick")
    book(sim)
    statuses = [d["status"] for d in deliveries(sim)]
    assert statuses == ["exhausted", "failed"]
    assert deliveries(sim)[1]["attempts"][0]["status_code"] == 400


def test_a_reply_without_success_true_is_a_failure() -> None:
    sim = build()
    sim.receiver.statuses = [201]  # the receiver says success: false for anything but 200
    book(sim)
    attempt = deliveries(sim)[0]["attempts"][0]
    assert deliveries(sim)[0]["status"] == "failed"
    assert attempt["error"] == 'reply is not {"success": true}'


def test_duplicates_and_resend() -> None:
    sim = build()
    sim.post("/_sim/faults", {"webhook_duplicate_rate": 1.0})
    booking_id = book(sim)["bookingId"]
    assert len(sim.receiver.bodies) == 2
    assert sim.receiver.bodies[0] == sim.receiver.bodies[1]
    assert [a["is_duplicate"] for a in deliveries(sim)[0]["attempts"]] == [False, True]
    sim.post("/_sim/faults", {"webhook_duplicate_rate": 0.0})
    assert sim.post(f"/_sim/reservations/{booking_id}/resend").status_code == 201
    assert len(sim.receiver.bodies) == 3


def test_reordering_holds_a_delivery_back_so_later_ones_overtake_it() -> None:
    sim = build()
    sim.post("/_sim/faults", {"webhook_reorder_rate": 1.0, "webhook_reorder_delay_seconds": 60})
    booking_id = book(sim)["bookingId"]
    sim.post("/_sim/faults", {"webhook_reorder_rate": 0.0})
    sim.post(f"/_sim/reservations/{booking_id}/modify", {"adults": 1})
    assert [b["action"] for b in sim.receiver.bodies] == ["modify"]
    sim.clock.advance(seconds=60)
    sim.post("/_sim/tick")
    assert [b["action"] for b in sim.receiver.bodies] == ["modify", "book"]


def test_injected_failure_is_retried() -> None:
    sim = build(webhook_retry_delays_seconds=(5.0,))
    sim.post("/_sim/faults", {"webhook_failure_rate": 1.0})
    book(sim)
    assert sim.receiver.bodies == []
    assert deliveries(sim)[0]["attempts"][0]["error"] == "injected failure: not sent"
    sim.post("/_sim/faults", {"webhook_failure_rate": 0.0})
    sim.clock.advance(seconds=5)
    sim.post("/_sim/tick")
    assert deliveries(sim)[0]["status"] == "delivered"


def test_generate_is_seeded_and_no_url_keeps_bookings() -> None:
    first, second = build(), build()
    made = first.post("/_sim/reservations/generate", {"count": 3}).json()["data"]
    again = second.post("/_sim/reservations/generate", {"count": 3}).json()["data"]
    assert made == again
    assert len({r["bookingId"] for r in made}) == 3
    quiet = build(webhook_url=None)
    quiet.post("/_sim/reservations/generate", {"count": 2})
    assert quiet.receiver.bodies == []
    assert {d["status"] for d in deliveries(quiet)} == {"no_url"}
    assert len(quiet.get("/_sim/reservations").json()["data"]) == 2


def test_generator_refuses_unknown_codes_and_bookings() -> None:
    sim = build()
    assert sim.post("/_sim/reservations", {"room_code": "NOPE"}).status_code == 422
    assert sim.post("/_sim/reservations", {"nights": 0}).status_code == 422
    assert sim.post("/_sim/reservations/NOPE/cancel").status_code == 404
    assert sim.post("/_sim/reservations/NOPE/resend").status_code == 404
    booking_id = book(sim)["bookingId"]
    sim.post(f"/_sim/reservations/{booking_id}/cancel")
    refused = sim.post(f"/_sim/reservations/{booking_id}/modify", {"nights": 1})
    assert refused.status_code == 422
    assert refused.json() == {"success": False, "message": f"booking {booking_id} is cancelled"}


def test_pushed_reservations_are_not_driven_by_the_generator() -> None:
    sim = build()
    pushed = {
        "action": "book",
        "hotelCode": HOTEL,
        "bookingId": "OTA-1",
        "checkin": "2030-03-01",
        "checkout": "2030-03-02",
    }
    assert sim.post("/api/v2/cm/push/sample-pms", pushed).status_code == 200
    for verb in ("modify", "cancel", "resend"):
        assert sim.post(f"/_sim/reservations/OTA-1/{verb}", {}).status_code == 422

"""Booking actions reported back to the OTA through Channex, end to end (issue #21, part 2).

§1.6: `POST /bookings/:id/no_show` (waived fees or a penalty), `invalid_card` and
`cancel_due_invalid_card`, refused with 422 `method_not_supported` when the OTA lacks them,
which innsync answers as a 409. Each report is on the reservation's history; a repeated one
does not reach the OTA again.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import Engine

from innsync.crypto import SecretBox
from innsync.reservations.models import CANCELLED, CONFIRMED, NO_SHOW
from tests.channels.channex_live import LiveChannex, live_channex

pytestmark = pytest.mark.backends("sqlite", "postgresql")


@pytest.fixture
def live(committed: Engine, secret_box: SecretBox) -> Iterator[LiveChannex]:
    with live_channex(committed, secret_box) as running:
        yield running


def received(live: LiveChannex, ota_name: str) -> str:
    """An OTA booking whose guest was due yesterday, stored by innsync; its reservation id."""
    live.book(offset=-1, nights=3, ota_name=ota_name)
    live.inbound()
    (reservation,) = live.reservations()
    assert reservation.ota_name == ota_name
    return str(reservation.id)


def report(live: LiveChannex, reservation_id: str, action: str, **body: Any) -> Any:
    with live.api() as api:
        return api.post(f"/api/v1/reservations/{reservation_id}/ota/{action}", json=body)


def sim_actions(live: LiveChannex) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = live.sim.get("/_sim/booking-actions").json()["data"]
    return rows


def history(live: LiveChannex, reservation_id: str) -> list[dict[str, Any]]:
    with live.api() as api:
        answer = api.get(f"/api/v1/reservations/{reservation_id}/changes")
    assert answer.status_code == 200, answer.text
    rows: list[dict[str, Any]] = answer.json()
    return rows


def status_of(live: LiveChannex) -> str:
    (reservation,) = live.reservations()
    return reservation.status


def test_a_no_show_is_reported_once_and_a_second_report_is_harmless(live: LiveChannex) -> None:
    reservation_id = received(live, "Expedia")

    first = report(live, reservation_id, "no-show", waived_fees=False, penalty_amount="25.00")
    assert first.status_code == 200, first.text
    assert first.json()["already_reported"] is False
    assert first.json()["status"] == NO_SHOW
    (sent,) = sim_actions(live)
    assert sent["action"] == "no_show"
    assert sent["body"] == {"waived_fees": False, "penalty_amount": "25.00"}

    again = report(live, reservation_id, "no-show", waived_fees=True)
    assert again.status_code == 200, again.text
    assert again.json()["already_reported"] is True
    assert again.json()["reported_at"] == first.json()["reported_at"]
    assert len(sim_actions(live)) == 1  # the OTA was not told twice

    actions = [change["action"] for change in history(live, reservation_id)]
    assert actions == ["created", "no_show", "ota_no_show"]
    reported = history(live, reservation_id)[-1]["changes"]
    assert reported == {"reported_to": "Expedia", "waived_fees": False, "penalty_amount": "25.00"}
    assert status_of(live) == NO_SHOW


# Reports sent at once. The simulator answers slowly, so they overlap at Channex without the
# claim; the assertions hold whichever way the requests interleave.
RACERS = 6


def test_no_shows_reported_at_once_reach_channex_once(live: LiveChannex) -> None:
    reservation_id = received(live, "Expedia")
    live.sim.post("/_sim/faults", {"latency_seconds": 0.5})

    def send(_: int) -> Any:
        return report(live, reservation_id, "no-show", waived_fees=True)

    with ThreadPoolExecutor(max_workers=RACERS) as pool:
        answers = list(pool.map(send, range(RACERS)))

    assert len(sim_actions(live)) == 1  # the OTA was told once
    statuses = sorted(answer.status_code for answer in answers)
    assert set(statuses) <= {200, 409}, [answer.text for answer in answers]
    reported = [answer.json() for answer in answers if answer.status_code == 200]
    assert [body["already_reported"] for body in reported].count(False) == 1
    for answer in answers:
        if answer.status_code == 409:
            assert "being sent right now" in answer.json()["detail"]
    actions = [change["action"] for change in history(live, reservation_id)]
    assert actions == ["created", "no_show", "ota_no_show"]
    assert status_of(live) == NO_SHOW
    # Asked again once the first has landed: answered from the history, nothing sent.
    again = report(live, reservation_id, "no-show", waived_fees=True)
    assert again.status_code == 200, again.text
    assert again.json()["already_reported"] is True
    assert len(sim_actions(live)) == 1


def test_a_report_channex_refused_can_be_sent_again(live: LiveChannex) -> None:
    reservation_id = received(live, "Expedia")
    live.sim.post("/_sim/faults", {"server_error_rate": 1.0})
    failed = report(live, reservation_id, "no-show", waived_fees=True)
    assert failed.status_code in (502, 503), failed.text
    assert sim_actions(live) == []
    live.sim.delete("/_sim/faults")
    # The claim was released: the next report goes out at once, not after the claim's lease.
    sent = report(live, reservation_id, "no-show", waived_fees=True)
    assert sent.status_code == 200, sent.text
    assert sent.json()["already_reported"] is False
    assert len(sim_actions(live)) == 1


def test_an_action_the_ota_lacks_is_a_409_and_changes_nothing(live: LiveChannex) -> None:
    reservation_id = received(live, "Airbnb")

    refused = report(live, reservation_id, "no-show", waived_fees=True)
    assert refused.status_code == 409, refused.text
    assert refused.json()["title"] == "Not supported by the OTA"
    assert "method_not_supported" in refused.json()["detail"]
    card = report(live, reservation_id, "invalid-card")
    assert card.status_code == 409, card.text

    assert sim_actions(live) == []
    assert [change["action"] for change in history(live, reservation_id)] == ["created"]
    assert status_of(live) == CONFIRMED


def test_an_invalid_card_is_reported_then_the_booking_cancelled_for_it(live: LiveChannex) -> None:
    reservation_id = received(live, "Booking.com")

    card = report(live, reservation_id, "invalid-card")
    assert card.status_code == 200, card.text
    assert status_of(live) == CONFIRMED  # the OTA asks the guest for another card

    cancel = report(live, reservation_id, "cancel-invalid-card")
    assert cancel.status_code == 200, cancel.text
    assert [a["action"] for a in sim_actions(live)] == ["invalid_card", "cancel_due_invalid_card"]
    # The cancellation comes back from Channex as the booking's next revision.
    live.inbound()
    assert status_of(live) == CANCELLED
    actions = [change["action"] for change in history(live, reservation_id)]
    assert actions == ["created", "ota_invalid_card", "ota_card_cancel", "cancelled"]

    late = report(live, reservation_id, "no-show", waived_fees=True)
    assert late.status_code == 409, late.text
    assert len(sim_actions(live)) == 2

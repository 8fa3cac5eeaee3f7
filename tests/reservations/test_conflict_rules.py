"""The conflict rules as pure functions: which fields contradict, and what wins."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from innsync.reservations.conflict_rules import (
    Decision,
    Version,
    contradicted_fields,
    decide,
    differs,
    revision_from_json,
    revision_json,
)
from tests.reservations.builders import BEFORE_PMS, revision

EARLY = datetime(2030, 1, 1, 9, tzinfo=UTC)
LATE = EARLY + timedelta(minutes=1)
BASE = Version("confirmed", date(2031, 3, 1), date(2031, 3, 3), Decimal("200.00"), ("a",))


def _with(**changes: object) -> Version:
    fields = {
        "status": BASE.status,
        "arrival": BASE.arrival,
        "departure": BASE.departure,
        "total_amount": BASE.total_amount,
        "room_type_ids": BASE.room_type_ids,
    }
    fields.update(changes)
    return Version(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("is_cancellation", "is_ota", "received_at", "pms_changed_at", "expected"),
    [
        (True, True, EARLY, LATE, "apply"),  # a cancellation always wins ...
        (True, False, EARLY, LATE, "apply"),  # ... on direct bookings too
        (False, True, LATE, EARLY, "apply"),  # a newer OTA revision wins
        (False, True, EARLY, LATE, "hold"),  # an older one is held
        (False, True, EARLY, EARLY, "hold"),  # as is one of the same time
        (False, False, EARLY, LATE, "keep_pms"),  # a newer PMS change to a direct booking
        (False, False, LATE, EARLY, "hold"),  # a newer channel change to a direct booking
        (False, False, EARLY, EARLY, "hold"),
    ],
)
def test_decide(
    is_cancellation: bool,
    is_ota: bool,
    received_at: datetime,
    pms_changed_at: datetime,
    expected: Decision,
) -> None:
    decision = decide(
        contradictions=("dates",),
        is_cancellation=is_cancellation,
        is_ota_booking=is_ota,
        revision_received_at=received_at,
        pms_changed_at=pms_changed_at,
    )
    assert decision == expected


@pytest.mark.parametrize("is_ota", [True, False])
def test_nothing_contradicted_is_applied(is_ota: bool) -> None:
    decision = decide(
        contradictions=(),
        is_cancellation=False,
        is_ota_booking=is_ota,
        revision_received_at=EARLY,
        pms_changed_at=LATE,
    )
    assert decision == "apply"


def test_amounts_within_five_percent_are_the_same() -> None:
    assert not differs("amount", BASE, _with(total_amount=Decimal("210.00")))
    assert not differs("amount", _with(total_amount=Decimal("210.00")), BASE)
    assert differs("amount", BASE, _with(total_amount=Decimal("210.60")))
    assert differs("amount", BASE, _with(total_amount=Decimal("0")))
    assert not differs("amount", _with(total_amount=Decimal("0")), _with(total_amount=Decimal(0)))


def test_rooms_compare_as_room_types_in_any_order() -> None:
    assert not differs("rooms", _with(room_type_ids=("a", "b")), _with(room_type_ids=("a", "b")))
    assert differs("rooms", _with(room_type_ids=("a", "b")), _with(room_type_ids=("a", "a")))
    assert differs("rooms", BASE, _with(room_type_ids=()))


def test_only_fields_the_pms_changed_can_be_contradicted() -> None:
    pms = _with(status="cancelled", total_amount=Decimal("300.00"))
    channel = _with(arrival=date(2031, 3, 2), total_amount=Decimal("305.00"))
    # status: changed by the PMS, the channel says confirmed; dates: changed by the channel only;
    # amount: changed by the PMS, the channel agrees within 5 %.
    assert contradicted_fields(BASE, pms, channel) == ("status",)
    assert contradicted_fields(BASE, BASE, channel) == ()
    assert contradicted_fields(BASE, pms, pms) == ()


def test_the_version_of_a_snapshot() -> None:
    snap = {
        "status": "confirmed",
        "arrival": "2031-03-01",
        "departure": "2031-03-03",
        "total_amount": "200.00",
        "rooms": [{"room_type_id": "b"}, {"room_type_id": "a"}],
    }
    assert Version.of_snapshot(snap) == _with(room_type_ids=("a", "b"))


@given(
    status=st.sampled_from(["new", "modified", "cancelled"]),
    nights=st.integers(1, 5),
    rooms=st.lists(st.sampled_from([("DBL", "DBL-BAR"), ("TWN", None)]), min_size=1, max_size=3),
    price=st.decimals(min_value=0, max_value=10_000, places=2),
)
def test_a_revision_round_trips_through_json(
    status: str, nights: int, rooms: list[tuple[str, str | None]], price: Decimal
) -> None:
    booked = revision(
        "B1", 3, BEFORE_PMS, status=status, nights=nights, rooms=tuple(rooms), price=str(price)
    )
    assert revision_from_json(revision_json(booked)) == booked

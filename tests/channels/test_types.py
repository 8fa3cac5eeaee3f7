"""Neutral channel types: rate field arithmetic, validation and push results."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from innsync.channels import registry
from innsync.channels.channex import CHANNEX_LIMITS
from innsync.channels.errors import ChannelRejectedError, ChannelUnavailableError
from innsync.channels.fake import CHANNEL_KIND, FakeChannelConfig
from innsync.channels.registry import (
    ChannelKind,
    ChannelRegistry,
    DuplicateChannelKindError,
)
from innsync.channels.types import (
    AvailabilityUpdate,
    BookedRoom,
    BookingRevision,
    ChannelLimits,
    EntryResult,
    GuestDetails,
    PushRequest,
    PushResult,
    RateUpdate,
    RateValues,
    ValueConstraints,
)
from innsync.stay_dates import DateRange

NIGHT = DateRange.single(date(2025, 3, 3))


def test_rate_values_say_which_fields_are_set_and_differ() -> None:
    held = RateValues(price=Decimal("100"), stop_sell=False, min_stay_arrival=2)
    wanted = RateValues(price=Decimal("100.00"), stop_sell=True)
    assert wanted.fields() == {"price", "stop_sell"}
    assert wanted.changed_fields(held) == {"stop_sell", "min_stay_arrival"}
    assert held.only({"price"}) == RateValues(price=Decimal("100"))
    assert held.updated_with(wanted) == RateValues(
        price=Decimal("100.00"), stop_sell=True, min_stay_arrival=2
    )
    assert RateValues().is_empty
    with pytest.raises(ValueError, match="unknown rate fields"):
        held.only({"rate"})


def test_occupancy_prices_are_kept_sorted_so_equal_lists_are_equal() -> None:
    shuffled = RateValues(occupancy_prices=((2, Decimal(120)), (1, Decimal(100))))
    ordered = RateValues(occupancy_prices=((1, Decimal(100)), (2, Decimal(120))))
    assert shuffled == ordered
    assert hash(shuffled) == hash(ordered)


@pytest.mark.parametrize(
    "fields",
    [
        {"price": Decimal(-1)},
        {"price": Decimal("NaN")},
        {"occupancy_prices": ((1, Decimal(1)), (1, Decimal(2)))},
        {"occupancy_prices": ((0, Decimal(1)),)},
        {"min_stay_arrival": 0},
        {"max_stay": -1},
        {"min_advance": True},
    ],
)
def test_impossible_rate_values_are_refused(fields: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="must"):
        RateValues(**fields)  # type: ignore[arg-type]


def test_updates_refuse_impossible_shapes() -> None:
    with pytest.raises(ValueError, match="availability"):
        AvailabilityUpdate("dbl", NIGHT, -1)
    with pytest.raises(ValueError, match="weekdays"):
        AvailabilityUpdate("dbl", NIGHT, 1, frozenset({7}))
    with pytest.raises(ValueError, match="at least one field"):
        RateUpdate("dbl", "bar", NIGHT, RateValues())
    with pytest.raises(ValueError, match="of that kind"):
        PushRequest("rates", (AvailabilityUpdate("dbl", NIGHT, 1),))
    with pytest.raises(ValueError, match="at least one update"):
        PushRequest("availability", ())


def test_push_result_summarises_its_entries() -> None:
    result = PushResult(
        (EntryResult(0, True), EntryResult(1, False, "closed"), EntryResult(2, False))
    )
    assert result.accepted_indexes == (0,)
    assert result.rejected == {1: "closed", 2: "rejected"}
    assert not result.is_fully_accepted
    assert PushResult.all_accepted(2, "t1").accepted_indexes == (0, 1)


def test_errors_carry_their_hints() -> None:
    assert ChannelUnavailableError(retry_after=5.0).retry_after == 5.0
    assert ChannelRejectedError(entry_reasons={3: "bad"}).entry_reasons == {3: "bad"}
    with pytest.raises(ValueError, match="retry_after"):
        ChannelUnavailableError(retry_after=-1.0)


def revision(**changes: object) -> BookingRevision:
    fields: dict[str, object] = {
        "channel_booking_id": "B1",
        "revision_id": "R1",
        "status": "new",
        "arrival": date(2025, 3, 3),
        "departure": date(2025, 3, 5),
        "rooms": (
            BookedRoom(
                "dbl",
                "bar",
                2,
                ((date(2025, 3, 3), Decimal(100)), (date(2025, 3, 4), Decimal(100))),
            ),
        ),
        "guest": GuestDetails(name="Ada Lovelace", email="ada@example.org"),
        "total_amount": Decimal(200),
        "currency": "EUR",
        "received_at": datetime(2025, 3, 1, 12, tzinfo=UTC),
    }
    fields.update(changes)
    return BookingRevision(**fields)  # type: ignore[arg-type]


def test_a_booking_revision_keeps_its_stay_and_may_cancel_without_rooms() -> None:
    assert revision().stay == DateRange(date(2025, 3, 3), date(2025, 3, 5))
    assert revision(status="cancelled", rooms=()).rooms == ()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"departure": date(2025, 3, 3)}, "must be after its start"),
        ({"rooms": ()}, "at least one room"),
        ({"currency": "eur"}, "ISO 4217"),
        ({"received_at": datetime(2025, 3, 1, 12)}, "timezone-aware"),  # noqa: DTZ001 - on purpose
        (
            {"rooms": (BookedRoom("dbl", "bar", 1, ((date(2025, 3, 5), Decimal(1)),)),)},
            "between arrival and departure",
        ),
        ({"revision_id": ""}, "revision id"),
    ],
)
def test_an_impossible_revision_is_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        revision(**changes)


def test_children_are_counted_in_the_occupancy() -> None:
    with pytest.raises(ValueError, match="children"):
        BookedRoom("dbl", None, 1, (), children=2)


def test_registry_refuses_a_second_kind_under_the_same_name() -> None:
    kinds = ChannelRegistry(builtin_modules=())
    kinds.register(CHANNEL_KIND)
    kinds.register(CHANNEL_KIND)
    other: ChannelKind[FakeChannelConfig] = ChannelKind(
        "fake", FakeChannelConfig, CHANNEL_KIND.build
    )
    with pytest.raises(DuplicateChannelKindError):
        kinds.register(other)
    assert kinds.kinds() == ("fake",)


@pytest.mark.parametrize(
    "fields",
    [{"requests_per_window": 0}, {"window_seconds": 0.0}, {"max_request_bytes": 0}],
)
def test_impossible_limits_are_refused(fields: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="must"):
        ChannelLimits(**{"requests_per_window": 10, "window_seconds": 60.0, **fields})


def test_budgets_are_per_kind_unless_shared() -> None:
    separate = ChannelLimits(requests_per_window=10, window_seconds=60.0)
    shared = ChannelLimits(requests_per_window=10, window_seconds=60.0, separate_budgets=False)
    assert (separate.budget_for("availability"), separate.budget_for("rates")) == (
        "availability",
        "rates",
    )
    assert shared.budget_for("availability") == shared.budget_for("rates") == "ari"


def test_value_constraints_name_every_value_the_channel_would_refuse() -> None:
    picky = ValueConstraints(
        min_price=Decimal("1"),
        max_price=Decimal("500"),
        price_decimal_places=2,
        max_min_stay=14,
        max_max_stay=28,
    )
    refused = RateValues(
        price=Decimal("0.5"),
        occupancy_prices=((1, Decimal("600")), (2, Decimal("99.999"))),
        min_stay_through=15,
        max_stay=29,
    )
    assert picky.problems(refused) == [
        "price 0.5 is below the channel's minimum 1",
        "price for occupancy 1 600 is above the channel's maximum 500",
        "price for occupancy 2 99.999 has more than 2 decimal places",
        "min_stay_through 15 is above the channel's maximum 14",
        "max_stay 29 is above the channel's maximum 28",
    ]
    assert picky.problems(RateValues(price=Decimal("120.50"), min_stay_arrival=14)) == []
    assert ValueConstraints().problems(refused) == []
    # Channex declares its own: "rate: greater than 0", in cents at most.
    assert CHANNEX_LIMITS.values.problems(RateValues(price=Decimal("0"))) == [
        "price 0 is below the channel's minimum 0.01"
    ]
    assert registry.get("channex").value_constraints == CHANNEX_LIMITS.values

"""Whether a marketplace booking can be taken: checked against the ARI its source reported.

A booking made through innsync's API for a property whose ARI comes from a connection is
checked at booking time against that connection's last reported availability and the
restrictions of the rate plan booked (stop sell, closed to arrival or departure, min and max
stay, advance booking); 409 says which rule refused it. Taken nights are subtracted from the
reported availability at once, so a second search does not sell them again before the hotel's
next report (which then sets the true figure).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from innsync.errors import ConflictError, InvalidInputError
from innsync.inventory.calendar import effective_calendar
from innsync.marketplace.models import AriSource, ChannelAvailabilityDay
from innsync.properties.derivation import DayValues
from innsync.properties.models import RatePlan, RoomType
from innsync.stay_dates import DateRange

Nights = Mapping[tuple[uuid.UUID, date], int]


def is_channel_sourced(session: Session, property_id: uuid.UUID) -> bool:
    return session.get(AriSource, property_id) is not None


def check_bookable(
    session: Session,
    property_id: uuid.UUID,
    rooms: Sequence[tuple[uuid.UUID, uuid.UUID | None]],
    stay: DateRange,
    added: Nights,
    today: date,
) -> None:
    """409 unless every room (room type, rate plan) can be sold for ``stay`` and the nights
    ``added`` (units per room type and date) are free in the reported availability."""
    for index, (_, rate_plan_id) in enumerate(rooms):
        if rate_plan_id is None:
            raise InvalidInputError(
                "a booking of a property whose ARI comes from a connection names a rate plan",
            )
        plan = session.get_one(RatePlan, rate_plan_id)
        # The departure date is read too: its closed-to-departure applies.
        with_departure = DateRange(stay.start, stay.end + timedelta(days=1))
        why = refusal(effective_calendar(session, plan, with_departure), stay, today)
        if why is not None:
            raise ConflictError(f"room {index + 1} ({plan.code}) cannot be booked: {why}")
    _check_units(session, added)


def refusal(calendar: Mapping[date, DayValues], stay: DateRange, today: date) -> str | None:
    """Why a rate plan cannot be sold for ``stay`` by its calendar, or ``None`` when it can."""
    nights = stay.nights
    arrival = calendar.get(stay.start, DayValues())
    for day in stay:
        values = calendar.get(day, DayValues())
        if values.stop_sell:
            return f"stop sell on {day}"
        if values.price is None and not values.occupancy_prices:
            return f"no price on {day}"
        if values.min_stay_through is not None and nights < values.min_stay_through:
            return f"minimum stay of {values.min_stay_through} nights through {day}"
    if arrival.closed_to_arrival:
        return f"closed to arrival on {stay.start}"
    departure = calendar.get(stay.end)
    if departure is not None and departure.closed_to_departure:
        return f"closed to departure on {stay.end}"
    if arrival.min_stay_arrival is not None and nights < arrival.min_stay_arrival:
        return f"minimum stay of {arrival.min_stay_arrival} nights arriving {stay.start}"
    if arrival.max_stay is not None and arrival.max_stay and nights > arrival.max_stay:
        return f"maximum stay of {arrival.max_stay} nights arriving {stay.start}"
    ahead = (stay.start - today).days
    if arrival.min_advance is not None and ahead < arrival.min_advance:
        return f"book at least {arrival.min_advance} days ahead"
    if arrival.max_advance is not None and arrival.max_advance and ahead > arrival.max_advance:
        return f"book at most {arrival.max_advance} days ahead"
    return None


def night_price(values: DayValues, pricing: str, guests: int) -> Decimal | None:
    """A night's price for ``guests``: a per-person plan charges the smallest priced occupancy
    that fits everyone (the largest if none does), as reservations are priced."""
    if pricing == "per_person" and values.occupancy_prices:
        fitting = [amount for occupancy, amount in values.occupancy_prices if occupancy >= guests]
        return fitting[0] if fitting else values.occupancy_prices[-1][1]
    return values.price


def _check_units(session: Session, added: Nights) -> None:
    wanted = {key: count for key, count in added.items() if count > 0}
    if not wanted:
        return
    days = [day for _, day in wanted]
    reported = {
        (room_type_id, day): available
        for room_type_id, day, available in session.execute(
            select(
                ChannelAvailabilityDay.room_type_id,
                ChannelAvailabilityDay.stay_date,
                ChannelAvailabilityDay.available,
            ).where(
                ChannelAvailabilityDay.room_type_id.in_({key[0] for key in wanted}),
                ChannelAvailabilityDay.stay_date >= min(days),
                ChannelAvailabilityDay.stay_date <= max(days),
            )
        )
    }
    for (room_type_id, day), count in sorted(wanted.items(), key=lambda item: item[0][1]):
        free = reported.get((room_type_id, day), 0)
        if count > free:
            code = session.get_one(RoomType, room_type_id).code
            raise ConflictError(
                f"room type {code} has {free} unit(s) available on {day} as its source "
                f"connection reported; {count} requested"
            )


def hold_nights(session: Session, taken: Nights) -> None:
    """Subtract units taken (add back units given back, negative) from the reported figures."""
    moves = Counter({key: count for key, count in taken.items() if count})
    for (room_type_id, day), count in sorted(moves.items()):
        session.execute(
            update(ChannelAvailabilityDay)
            .where(
                ChannelAvailabilityDay.room_type_id == room_type_id,
                ChannelAvailabilityDay.stay_date == day,
            )
            .values(available=ChannelAvailabilityDay.available - count)
            .execution_options(synchronize_session=False)
        )

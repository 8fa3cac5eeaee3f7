"""Desired state of one connection: innsync's data seen through the connection's mappings.

The planner compares this with what the channel acknowledged; nothing here talks to a channel.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from innsync.channels.types import ChannelLimits, RatePlanKey, RateValues
from innsync.connections.models import Connection, RatePlanMapping, RoomTypeMapping
from innsync.inventory.availability import day_counts
from innsync.inventory.calendar import effective_calendar
from innsync.properties.derivation import DayValues
from innsync.properties.models import Property, RatePlan, RoomType
from innsync.properties.service import property_today
from innsync.stay_dates import DateRange, merge_ranges


@dataclass(frozen=True, slots=True)
class Mappings:
    """A connection's codes: innsync ids to channel codes, and back."""

    room_types: Mapping[uuid.UUID, str]
    rate_plans: Mapping[uuid.UUID, RatePlanKey]

    def room_type_id(self, code: str) -> uuid.UUID | None:
        return next((key for key, value in self.room_types.items() if value == code), None)

    def rate_plan_id(self, key: RatePlanKey) -> uuid.UUID | None:
        return next((plan for plan, value in self.rate_plans.items() if value == key), None)


def load_mappings(session: Session, connection: Connection) -> Mappings:
    """Mapped room types, and rate plans whose room type is mapped too (else none can be sent)."""
    room_types = {
        row.room_type_id: row.channel_code
        for row in session.scalars(
            select(RoomTypeMapping).where(RoomTypeMapping.connection_id == connection.id)
        )
    }
    rate_plans: dict[uuid.UUID, RatePlanKey] = {}
    query = (
        select(RatePlanMapping, RatePlan.room_type_id)
        .join(RatePlan, RatePlan.id == RatePlanMapping.rate_plan_id)
        .where(RatePlanMapping.connection_id == connection.id)
    )
    for mapping, room_type_id in session.execute(query).all():
        if room_type_id in room_types:
            rate_plans[mapping.rate_plan_id] = (room_types[room_type_id], mapping.channel_code)
    return Mappings(room_types, rate_plans)


def desired_availability(
    session: Session, mappings: Mappings, dirty: Mapping[uuid.UUID, list[DateRange]]
) -> dict[str, dict[date, int]]:
    """Units to offer per mapped room type on its dirty dates: free units, never below zero."""
    wanted = [room_type_id for room_type_id in dirty if room_type_id in mappings.room_types]
    if not wanted:
        return {}
    room_types = list(session.scalars(select(RoomType).where(RoomType.id.in_(wanted))))
    span = _span(range_ for room_type_id in wanted for range_ in dirty[room_type_id])
    counts = day_counts(session, room_types, span)
    desired: dict[str, dict[date, int]] = {}
    for room_type in room_types:
        dates = _dates(dirty[room_type.id])
        desired[mappings.room_types[room_type.id]] = {
            day: max(count.free, 0) for day, count in counts[room_type.id].items() if day in dates
        }
    return desired


def desired_rates(
    session: Session, mappings: Mappings, dirty: Mapping[uuid.UUID, list[DateRange]]
) -> dict[RatePlanKey, dict[date, RateValues]]:
    """Rates and restrictions per mapped rate plan on its dirty dates, derived plans resolved."""
    desired: dict[RatePlanKey, dict[date, RateValues]] = {}
    for rate_plan_id, ranges in dirty.items():
        key = mappings.rate_plans.get(rate_plan_id)
        plan = session.get(RatePlan, rate_plan_id) if key else None
        if key is None or plan is None:
            continue
        values: dict[date, RateValues] = {}
        for span in merge_ranges(ranges):
            for day, day_values in effective_calendar(session, plan, span).items():
                values[day] = channel_values(day_values)
        desired[key] = values
    return desired


def channel_values(day: DayValues) -> RateValues:
    """What a channel should show for one date, with every restriction explicit.

    A restriction innsync does not hold is sent as its "off" value, so lifting one reaches the
    channel; a date without any price is closed (stop sell): innsync never offers a night for
    which it does not know the price. A price of 0 (a derived price brought down to nothing) is
    no price: no channel sells a night at 0, so such a date is closed rather than refused.
    """
    price = day.price if day.price is not None and day.price > 0 else None
    occupancy_prices = tuple(pair for pair in day.occupancy_prices or () if pair[1] > 0)
    has_price = price is not None or bool(occupancy_prices)
    return RateValues(
        price=price,
        occupancy_prices=occupancy_prices or None,
        min_stay_arrival=day.min_stay_arrival or 1,
        min_stay_through=day.min_stay_through or 1,
        max_stay=day.max_stay or 0,
        closed_to_arrival=bool(day.closed_to_arrival),
        closed_to_departure=bool(day.closed_to_departure),
        stop_sell=bool(day.stop_sell) or not has_price,
        min_advance=day.min_advance or 0,
        max_advance=day.max_advance or 0,
    )


def channel_today(prop: Property, now: datetime, limits: ChannelLimits) -> date:
    """The first stay date a channel still takes: the property's today in its time zone, or
    tomorrow in the channel's last minutes of the day (``limits.today_margin_seconds``)."""
    return property_today(prop, now + timedelta(seconds=limits.today_margin_seconds))


def from_day(ranges: Iterable[DateRange], first: date) -> list[DateRange]:
    """``ranges`` without their dates before ``first``."""
    return [DateRange(max(span.start, first), span.end) for span in ranges if span.end > first]


def _span(ranges: Iterable[DateRange]) -> DateRange:
    merged = merge_ranges(ranges)
    return DateRange(merged[0].start, merged[-1].end)


def _dates(ranges: Iterable[DateRange]) -> set[date]:
    return {day for span in merge_ranges(ranges) for day in span}

"""The offers search of a marketplace: what its channel-sourced properties sell for a stay.

Answered from innsync's own tables only (no channel call on the request path), in a fixed
number of queries whatever the number of properties and nights: properties, room types, rate
plans, calendar days, reported availability (five). Each room type that fits the party and
has units reported free every night, with each of its rate plans whose calendar sells the stay
(``bookable.refusal``), is one offer with its nightly and total price.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from innsync.errors import InvalidInputError
from innsync.inventory.calendar import own_values
from innsync.inventory.runs import calendar_rows
from innsync.marketplace.bookable import night_price, refusal
from innsync.marketplace.models import AriSource, ChannelAvailabilityDay
from innsync.marketplace.schemas import (
    Offer,
    OfferNight,
    OfferRestrictions,
    OfferSearch,
)
from innsync.properties.derivation import DayValues
from innsync.properties.models import Property, RatePlan, RoomType
from innsync.properties.service import property_today
from innsync.stay_dates import DateRange

# A search spans at most this many nights: a search page asks for a stay, not a season.
MAX_NIGHTS = 31


def search_offers(
    session: Session,
    tenant_id: uuid.UUID,
    arrival: date,
    departure: date,
    adults: int,
    children: int,
    now: datetime,
) -> OfferSearch:
    if departure <= arrival:
        raise InvalidInputError("departure must be after arrival")
    if departure >= date.max:
        raise InvalidInputError(f"departure must be before {date.max}")
    stay = DateRange(arrival, departure)
    if stay.nights > MAX_NIGHTS:
        raise InvalidInputError(f"search at most {MAX_NIGHTS} nights")
    guests = adults + children
    properties = {
        prop.id: prop
        for prop in session.scalars(
            select(Property)
            .join(AriSource, AriSource.property_id == Property.id)
            .where(Property.tenant_id == tenant_id)
            .order_by(Property.name, Property.id)
        )
    }
    if not properties:
        return OfferSearch(
            arrival=arrival, departure=departure, adults=adults, children=children, offers=[]
        )
    room_types = {
        room.id: room
        for room in session.scalars(
            select(RoomType)
            .where(
                RoomType.property_id.in_(list(properties)),
                RoomType.tenant_id == tenant_id,
                RoomType.max_adults >= adults,
                RoomType.max_children >= children,
                RoomType.max_occupancy >= guests,
            )
            .order_by(RoomType.code)
        )
    }
    plans = (
        list(
            session.scalars(
                select(RatePlan)
                .where(
                    RatePlan.room_type_id.in_(list(room_types)),
                    RatePlan.tenant_id == tenant_id,
                    # Channel-sourced catalogs carry no derivations (marketplace/channel_ari.py).
                    RatePlan.parent_id.is_(None),
                )
                .order_by(RatePlan.code)
            )
        )
        if room_types
        else []
    )
    read = DateRange(arrival, departure + timedelta(days=1))  # the departure's CTD counts
    rows = calendar_rows(session, [plan.id for plan in plans], read)
    free: dict[uuid.UUID, dict[date, int]] = defaultdict(dict)
    if room_types:
        for room_type_id, day, available in session.execute(
            select(
                ChannelAvailabilityDay.room_type_id,
                ChannelAvailabilityDay.stay_date,
                ChannelAvailabilityDay.available,
            ).where(
                ChannelAvailabilityDay.room_type_id.in_(list(room_types)),
                ChannelAvailabilityDay.stay_date >= stay.start,
                ChannelAvailabilityDay.stay_date < stay.end,
            )
        ):
            free[room_type_id][day] = available
    offers = []
    for plan in plans:
        room = room_types[plan.room_type_id]
        prop = properties[plan.property_id]
        available = min(free[room.id].get(day, 0) for day in stay)
        if available < 1:
            continue
        calendar = {day: own_values(rows[plan.id].get(day), prop.currency) for day in read}
        if refusal(calendar, stay, property_today(prop, now)) is not None:
            continue
        nightly = [
            OfferNight(stay_date=day, price=price)
            for day in stay
            if (price := night_price(calendar[day], plan.pricing, guests)) is not None
        ]
        offers.append(
            Offer(
                property_id=prop.id,
                property_name=prop.name,
                room_type_id=room.id,
                room_type_name=room.name,
                rate_plan_id=plan.id,
                rate_plan_name=plan.name,
                meal_plan=plan.meal_plan,
                cancellation_policy=plan.cancellation_policy,
                currency=prop.currency,
                nightly=nightly,
                total=sum((night.price for night in nightly), Decimal("0.00")),
                restrictions=_restrictions(calendar, stay, available),
            )
        )
    offers.sort(key=lambda offer: (offer.property_name, str(offer.property_id), offer.total))
    return OfferSearch(
        arrival=arrival, departure=departure, adults=adults, children=children, offers=offers
    )


def _restrictions(
    calendar: dict[date, DayValues], stay: DateRange, available: int
) -> OfferRestrictions:
    arrival = calendar[stay.start]
    min_stays = [arrival.min_stay_arrival] + [calendar[day].min_stay_through for day in stay]
    known = [nights for nights in min_stays if nights]
    return OfferRestrictions(
        min_stay=max(known) if known else None,
        max_stay=arrival.max_stay or None,
        available=available,
    )

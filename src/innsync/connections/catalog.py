"""The hotel as a channel must hold it (a neutral ``PropertyCatalog``), and its digest.

Provisioning sends the catalog; the digest of what it sent is kept on the connection, so the
catalog pass (``connections.catalog_sync``) can tell, level-triggered, when innsync's catalog
has moved on since and provisioning must run again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from innsync.channels.types import (
    CatalogRatePlan,
    CatalogRoomType,
    PropertyCatalog,
    PropertyContact,
)
from innsync.connections.models import Connection, RatePlanMapping, RoomTypeMapping
from innsync.properties.models import Property, RatePlan, RoomType
from innsync.tenants.models import Tenant

# Enough of the tenant id to tell tenants apart in one Channex account (48 bits), short
# enough to sit beside the tenant's name in a group title.
ACCOUNT_MARKER_LENGTH = 12
CONTACT_FIELDS = tuple(field.name for field in dataclasses.fields(PropertyContact))


def account_marker(tenant_id: uuid.UUID) -> str:
    """The part of a tenant's channel-side group title that never changes."""
    return f"innsync {tenant_id.hex[:ACCOUNT_MARKER_LENGTH]}"


def property_catalog(session: Session, connection: Connection) -> PropertyCatalog:
    """The connection's hotel as the channel must hold it, with the current mappings."""
    tenant = session.get_one(Tenant, connection.tenant_id)
    prop = session.get_one(Property, connection.property_id)
    rooms = list(
        session.scalars(
            select(RoomType).where(RoomType.property_id == prop.id).order_by(RoomType.code)
        )
    )
    plans = list(
        session.scalars(
            select(RatePlan).where(RatePlan.property_id == prop.id).order_by(RatePlan.code)
        )
    )
    room_codes = {
        room_type_id: code
        for room_type_id, code in session.execute(
            select(RoomTypeMapping.room_type_id, RoomTypeMapping.channel_code).where(
                RoomTypeMapping.connection_id == connection.id
            )
        )
    }
    plan_codes = {
        rate_plan_id: code
        for rate_plan_id, code in session.execute(
            select(RatePlanMapping.rate_plan_id, RatePlanMapping.channel_code).where(
                RatePlanMapping.connection_id == connection.id
            )
        )
    }
    marker = account_marker(tenant.id)
    return PropertyCatalog(
        account_title=f"{tenant.name} ({marker})",
        account_marker=marker,
        title=prop.name,
        currency=prop.currency,
        timezone=prop.timezone,
        contact=PropertyContact(**{name: getattr(prop, name) for name in CONTACT_FIELDS}),
        room_types=tuple(
            CatalogRoomType(
                key=str(room.id),
                title=room.name,
                units=room.sellable_units,
                max_adults=room.max_adults,
                max_children=room.max_children,
                default_occupancy=room.default_occupancy,
                remote_id=room_codes.get(room.id),
            )
            for room in rooms
        ),
        rate_plans=tuple(
            CatalogRatePlan(
                key=str(plan.id),
                room_type_key=str(plan.room_type_id),
                title=plan.name,
                pricing="per_person" if plan.pricing == "per_person" else "per_room",
                occupancies=tuple(plan.occupancies),
                remote_id=plan_codes.get(plan.id),
                meal_plan=plan.meal_plan,
                cancellation_policy=plan.cancellation_policy,
                children_fee=plan.children_fee,
                infant_fee=plan.infant_fee,
            )
            for plan in plans
        ),
    )


def catalog_digest(catalog: PropertyCatalog) -> str:
    """A digest of what the channel must hold, without the mapped ids: remapping by hand is
    not a catalog change, and provisioning itself changes the mappings it reads."""
    content = dataclasses.replace(
        catalog,
        room_types=tuple(dataclasses.replace(r, remote_id=None) for r in catalog.room_types),
        rate_plans=tuple(dataclasses.replace(p, remote_id=None) for p in catalog.rate_plans),
    )
    text = json.dumps(dataclasses.asdict(content), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()

"""Channex provisioning: a group per tenant, the property, room types and rate plans (§1.4).

Option A of the setup: one Channex account (one API key) holds every tenant's properties, each
tenant in a group of its own. Everything is matched before it is created — the group by its
title (or the tenant marker in it, so a renamed tenant keeps its group), the property by the
stored id or by its title within the group, room types and rate plans by the mapped id or by
title — and attributes that differ are updated with PUT. A second run therefore creates
nothing and returns the same ids.

Rate plans are created as independent ``manual`` plans: innsync resolves derived plans itself
and pushes their prices (``sync.desired``), so a Channex-side derivation would count twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal, TypeVar

from innsync.channels.channex.answers import (
    GroupAttributes,
    PropertyAttributes,
    RatePlanAttributes,
    RoomTypeAttributes,
)
from innsync.channels.channex.client import ChannexClient
from innsync.channels.channex.policies import ensure_policies
from innsync.channels.errors import ChannelRejectedError
from innsync.channels.types import (
    CatalogKind,
    CatalogRatePlan,
    CatalogRoomType,
    PropertyCatalog,
    ProvisionAction,
    ProvisionedItem,
    ProvisionResult,
    RemoteCatalog,
    RemoteRatePlan,
    RemoteRoomType,
)

# §1.4 property_type; innsync's properties are hotels (vacation rentals are billed per room).
PROPERTY_TYPE = "hotel"
# §1.4 optional property fields innsync holds under the same names. Only those the hotel filled
# in are sent: one left empty in innsync keeps what Channex holds (typed there by hand, maybe).
CONTACT_FIELDS = (
    "email",
    "phone",
    "zip_code",
    "country",
    "state",
    "city",
    "address",
    "latitude",
    "longitude",
    "website",
)
ROOM_TYPE_FIELDS = (
    "title",
    "count_of_rooms",
    "occ_adults",
    "occ_children",
    "occ_infants",
    "default_occupancy",
)
RATE_PLAN_FIELDS = (
    "title",
    "sell_mode",
    "rate_mode",
    "options",
    "meal_type",
    "children_fee",
    "infant_fee",
)
# innsync's meal plans in §1.4 `meal_type` terms (each has a value of the same name there).
# §1.4 has no cancellation-policy field on a rate plan; the policy is linked only when the
# connection asks for it ([UNCONFIRMED], policies.py; CHECKLIST.yaml catalog_cancellation_policy).
POLICY_FIELD = "cancellation_policy_id"
MEAL_TYPES = {
    "room_only": "room_only",
    "breakfast": "breakfast",
    "half_board": "half_board",
    "full_board": "full_board",
    "all_inclusive": "all_inclusive",
}

Found = TypeVar("Found", RoomTypeAttributes, RatePlanAttributes)
CENT = Decimal("0.01")


# Pure translations from the neutral catalog to Channex bodies.


def property_fields(catalog: PropertyCatalog) -> dict[str, Any]:
    """§1.4 property fields: the required ones, and the address and contact innsync holds."""
    contact = catalog.contact
    fields: dict[str, Any] = {
        "title": catalog.title,
        "currency": catalog.currency,
        "timezone": catalog.timezone,
    }
    for name in CONTACT_FIELDS:
        value = getattr(contact, name)
        if value is not None:
            fields[name] = value
    return fields


def property_changes(catalog: PropertyCatalog, found: PropertyAttributes) -> dict[str, Any]:
    """The fields of a found property to PUT, empty when it holds what innsync sends.

    The description goes in §1.4 ``content``, which also holds photos and important
    information: those are kept as found, so the PUT replaces the description only.
    """
    wanted = property_fields(catalog)
    current = found.model_dump()
    changes = {name: value for name, value in wanted.items() if current.get(name) != value}
    description = catalog.contact.description
    content = dict(found.content or {})
    if description is not None and content.get("description") != description:
        changes["content"] = {**content, "description": description}
    return changes


def new_property_fields(catalog: PropertyCatalog) -> dict[str, Any]:
    fields = property_fields(catalog)
    if catalog.contact.description is not None:
        fields["content"] = {"description": catalog.contact.description}
    return fields


def fee_text(amount: Decimal | None) -> str:
    """A §1.4 fee as a decimal string; a plan without the fee charges "0.00" (the default)."""
    value = amount if amount is not None else Decimal(0)
    return f"{value:.2f}" if value == value.quantize(CENT) else str(value)


def room_type_fields(room: CatalogRoomType) -> dict[str, Any]:
    """§1.4 room type fields; Channex counts adults and children apart and has no total."""
    return {
        "title": room.title,
        # §1.4: a positive integer. innsync may sell 0 units; availability is pushed apart.
        "count_of_rooms": max(room.units, 1),
        "occ_adults": room.max_adults,
        "occ_children": room.max_children,
        # innsync does not count infants apart; they are children there.
        "occ_infants": 0,
        # §1.4: at most occ_adults, while innsync allows up to its total occupancy.
        "default_occupancy": min(room.default_occupancy, room.max_adults),
    }


def occupancy_options(plan: CatalogRatePlan, room: CatalogRoomType) -> list[dict[str, int | bool]]:
    """§1.4 occupancy options: per-room one at the maximum, per-person one per priced occupancy.

    A per-person option innsync does not price would sell at its default rate of 0, so only
    the plan's own occupancies are created, capped at ``occ_adults`` as §1.4 requires. The
    primary option is the room's default occupancy when priced, else the largest.
    """
    if plan.pricing == "per_room":
        return [{"occupancy": room.max_adults, "is_primary": True}]
    occupancies = sorted({o for o in plan.occupancies if o <= room.max_adults}) or [room.max_adults]
    default = min(room.default_occupancy, room.max_adults)
    primary = default if default in occupancies else occupancies[-1]
    return [{"occupancy": o, "is_primary": o == primary} for o in occupancies]


def rate_plan_fields(
    plan: CatalogRatePlan, room: CatalogRoomType, policy_ids: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """§1.4 rate plan fields; with ``policy_ids`` (policies linked), the plan's policy id too,
    ``None`` for a plan without a policy text."""
    # Option rates are left out: the default rate only shows on dates innsync never pushed,
    # and innsync pushes every date of its horizon.
    fields: dict[str, Any] = {
        "title": plan.title,
        "sell_mode": plan.pricing,
        "rate_mode": "manual",
        "options": occupancy_options(plan, room),
        # A meal plan innsync adds before this table knows it goes as "none", never refused.
        "meal_type": MEAL_TYPES.get(plan.meal_plan, "none"),
        "children_fee": fee_text(plan.children_fee),
        "infant_fee": fee_text(plan.infant_fee),
    }
    if policy_ids is not None:
        fields[POLICY_FIELD] = policy_ids.get(plan.cancellation_policy)
    return fields


def _options_of(found: RatePlanAttributes) -> list[dict[str, int | bool]]:
    return sorted(
        ({"occupancy": o.occupancy, "is_primary": o.is_primary} for o in found.options),
        key=lambda option: int(option["occupancy"]),
    )


def _differences(
    wanted: Mapping[str, Any], found: Mapping[str, Any], names: Sequence[str]
) -> tuple[str, ...]:
    return tuple(name for name in names if wanted[name] != found.get(name))


def remote_room_type(found: RoomTypeAttributes) -> RemoteRoomType:
    return RemoteRoomType(
        remote_id=found.id,
        title=found.title,
        units=found.count_of_rooms,
        max_adults=found.occ_adults,
        max_children=found.occ_children,
        default_occupancy=found.default_occupancy,
    )


def remote_rate_plan(found: RatePlanAttributes) -> RemoteRatePlan:
    primary = next((o.occupancy for o in found.options if o.is_primary), None)
    return RemoteRatePlan(
        remote_id=found.id,
        room_type_remote_id=found.room_type_id,
        title=found.title,
        pricing=found.sell_mode,
        occupancies=tuple(sorted(o.occupancy for o in found.options)),
        primary_occupancy=primary,
    )


@dataclass
class _Run:
    """One provisioning run: what was done so far, in order."""

    items: list[ProvisionedItem] = field(default_factory=list)

    def note(
        self,
        kind: CatalogKind,
        remote_id: str,
        title: str,
        changed: tuple[str, ...] | None,
        key: str | None = None,
    ) -> None:
        """``changed`` is ``None`` for a creation, empty for a match, else the updated fields."""
        action: ProvisionAction = (
            "created" if changed is None else ("updated" if changed else "matched")
        )
        self.items.append(ProvisionedItem(kind, remote_id, title, action, key, changed or ()))


class ChannexProvisioner:
    """Creates, matches and updates a hotel's entities on Channex through one client."""

    def __init__(self, client: ChannexClient, policies: Literal["off", "linked"] = "off") -> None:
        self._client = client
        self._policies = policies

    async def read_catalog(self, property_id: str) -> RemoteCatalog:
        rooms = await self._client.list_room_types(property_id)
        plans = await self._client.list_rate_plans(property_id)
        return RemoteCatalog(
            remote_property_id=property_id,
            room_types=tuple(remote_room_type(room) for room in rooms),
            rate_plans=tuple(remote_rate_plan(plan) for plan in plans),
        )

    async def provision(
        self, catalog: PropertyCatalog, stored_property_id: str | None
    ) -> ProvisionResult:
        run = _Run()
        group = await self._ensure_group(catalog, run)
        prop = await self._ensure_property(catalog, stored_property_id, group, run)
        room_ids = await self._ensure_room_types(catalog, prop.id, run)
        policy_ids = None
        if self._policies == "linked":
            texts = [plan.cancellation_policy for plan in catalog.rate_plans]
            policy_ids, items = await ensure_policies(
                self._client, prop.id, catalog.currency, texts
            )
            run.items.extend(items)
        await self._ensure_rate_plans(catalog, prop.id, room_ids, policy_ids, run)
        return ProvisionResult(prop.id, tuple(run.items), (("property_id", prop.id),))

    async def _ensure_group(self, catalog: PropertyCatalog, run: _Run) -> GroupAttributes:
        groups = await self._client.list_groups()
        exact = next((g for g in groups if g.title == catalog.account_title), None)
        if exact is not None:
            run.note("account", exact.id, exact.title, ())
            return exact
        renamed = next((g for g in groups if catalog.account_marker in g.title), None)
        if renamed is not None:
            updated = await self._client.update_group(renamed.id, catalog.account_title)
            run.note("account", updated.id, updated.title, ("title",))
            return updated
        created = await self._client.create_group(catalog.account_title)
        run.note("account", created.id, created.title, None)
        return created

    async def _ensure_property(
        self,
        catalog: PropertyCatalog,
        stored_property_id: str | None,
        group: GroupAttributes,
        run: _Run,
    ) -> PropertyAttributes:
        found = None
        if stored_property_id is not None:
            found = await self._client.find_property(stored_property_id)
        if found is None:
            found = await self._property_in_group(catalog.title, group)
        if found is None:
            created = await self._client.create_property(
                {
                    **new_property_fields(catalog),
                    "group_id": group.id,
                    "property_type": PROPERTY_TYPE,
                }
            )
            run.note("property", created.id, catalog.title, None)
            return created
        body = property_changes(catalog, found)
        changed = tuple(body)
        if body:
            found = await self._client.update_property(found.id, body)
        if group.id not in found.group_ids:
            # A property found by its stored id may live in another group: it joins this one
            # as well (§1.4: a property belongs to at least one group, possibly several).
            await self._client.add_property_to_group(group.id, found.id)
            changed += ("groups",)
        run.note("property", found.id, catalog.title, changed)
        return found

    async def _property_in_group(
        self, title: str, group: GroupAttributes
    ) -> PropertyAttributes | None:
        candidates = [
            prop
            for prop in await self._client.properties_titled(title)
            if group.id in prop.group_ids
        ]
        if len(candidates) > 1:
            raise ChannelRejectedError(
                f"Channex has {len(candidates)} properties titled {title!r} in group "
                f"{group.title!r}; set property_id in the connection to choose one"
            )
        return candidates[0] if candidates else None

    async def _ensure_room_types(
        self, catalog: PropertyCatalog, property_id: str, run: _Run
    ) -> dict[str, str]:
        remote = await self._client.list_room_types(property_id)
        paired = _pair([(r.key, r.remote_id, r.title) for r in catalog.room_types], remote)
        ids: dict[str, str] = {}
        for room in catalog.room_types:
            found = paired[room.key]
            if found is None:
                continue
            wanted = room_type_fields(room)
            changed = _differences(wanted, found.model_dump(), ROOM_TYPE_FIELDS)
            if changed:
                await self._client.update_room_type(
                    found.id, {name: wanted[name] for name in changed}
                )
            run.note("room_type", found.id, room.title, changed, room.key)
            ids[room.key] = found.id
        # Creations come after updates, so a title freed by a rename can be taken.
        for room in catalog.room_types:
            if paired[room.key] is None:
                created = await self._client.create_room_type(
                    {**room_type_fields(room), "property_id": property_id}
                )
                run.note("room_type", created.id, room.title, None, room.key)
                ids[room.key] = created.id
        return ids

    async def _ensure_rate_plans(
        self,
        catalog: PropertyCatalog,
        property_id: str,
        room_ids: dict[str, str],
        policy_ids: Mapping[str, str] | None,
        run: _Run,
    ) -> None:
        remote = await self._client.list_rate_plans(property_id)
        paired = _pair([(p.key, p.remote_id, p.title) for p in catalog.rate_plans], remote)
        rooms = {room.key: room for room in catalog.room_types}
        for plan in catalog.rate_plans:
            found = paired[plan.key]
            if found is None:
                continue
            room_type_id = room_ids[plan.room_type_key]
            if found.room_type_id != room_type_id:
                # §1.4: a plan belongs to exactly one room type, and the title is unique per
                # property, so neither a move nor a second plan of that title is possible.
                raise ChannelRejectedError(
                    f"the Channex rate plan {found.title!r} ({found.id}) belongs to room type "
                    f"{found.room_type_id}, but innsync's plan {plan.title!r} is sold in room "
                    f"type {room_type_id}; rename or remove one of them"
                )
            wanted = rate_plan_fields(plan, rooms[plan.room_type_key], policy_ids)
            current = {
                **found.model_dump(),
                "options": _options_of(found),
                "children_fee": fee_text(found.children_fee),
                "infant_fee": fee_text(found.infant_fee),
            }
            compared = RATE_PLAN_FIELDS if policy_ids is None else (*RATE_PLAN_FIELDS, POLICY_FIELD)
            changed = _differences(wanted, current, compared)
            if changed:
                body = {name: wanted[name] for name in changed}
                if "rate_mode" in changed and found.parent_rate_plan_id is not None:
                    body["parent_rate_plan_id"] = None
                await self._client.update_rate_plan(found.id, body)
            run.note("rate_plan", found.id, plan.title, changed, plan.key)
        for plan in catalog.rate_plans:
            if paired[plan.key] is None:
                fields = rate_plan_fields(plan, rooms[plan.room_type_key], policy_ids)
                if fields.get(POLICY_FIELD, "") is None:
                    # A new plan without a policy sends no link: the unconfirmed field is sent
                    # only where it says something.
                    del fields[POLICY_FIELD]
                created = await self._client.create_rate_plan(
                    {
                        **fields,
                        "property_id": property_id,
                        "room_type_id": room_ids[plan.room_type_key],
                    }
                )
                run.note("rate_plan", created.id, plan.title, None, plan.key)


def _pair(
    wanted: Sequence[tuple[str, str | None, str]], remote: Sequence[Found]
) -> dict[str, Found | None]:
    """Pair each (key, mapped id, title) with a remote entity, or ``None`` to create one.

    Mapped ids are claimed first, so a title match never takes an entity another key is
    already mapped to; then each unpaired key takes the first unclaimed entity of its title.
    """
    by_id = {item.id: item for item in remote}
    claimed: set[str] = set()
    paired: dict[str, Found | None] = {}
    for key, remote_id, _title in wanted:
        found = by_id.get(remote_id) if remote_id is not None else None
        if found is not None and found.id not in claimed:
            paired[key] = found
            claimed.add(found.id)
    for key, _remote_id, title in wanted:
        if key in paired:
            continue
        match = next((i for i in remote if i.title == title and i.id not in claimed), None)
        if match is not None:
            claimed.add(match.id)
        paired[key] = match
    return paired

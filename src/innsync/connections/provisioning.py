"""Provisioning a connection: create or match the hotel on the channel, then store its ids.

Each use-case runs in three steps so that no database transaction stays open while the channel
is called: read the hotel (one short read), call the channel (no session), then store the
channel's ids (one short write) — the property id into the connection's encrypted config and
the room-type and rate-plan codes through :func:`service.set_mappings`, which also queues what
changed for sending.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar, cast

import httpx
from sqlalchemy import delete as sa_delete
from sqlalchemy import select
from sqlalchemy.orm import Session

from innsync.channels.contract import (
    ChannelAdapter,
    ProvisionsProperty,
    ReadsRemoteCatalog,
    RegistersWebhooks,
    RemovesRemoteRatePlans,
    RemovesRemoteRoomTypes,
)
from innsync.channels.errors import ChannelRejectedError
from innsync.channels.types import (
    PropertyCatalog,
    ProvisionResult,
    RemoteCatalog,
)
from innsync.connections import service
from innsync.connections.catalog import catalog_digest, property_catalog
from innsync.connections.configs import channel_kind, effective_config
from innsync.connections.models import (
    Connection,
    ProvisionedEntity,
    RatePlanMapping,
    RoomTypeMapping,
)
from innsync.connections.oauth import OAUTH_CHANNELS
from innsync.connections.schemas import (
    ConnectionUpdate,
    MappingCheck,
    MappingsWrite,
    ProvisionedItemRead,
    ProvisionRead,
    RatePlanMappingIn,
    RemoteCatalogRead,
    RemoteItemKept,
    RemoteRatePlanRead,
    RemoteRemovalRead,
    RemoteRoomTypeRead,
    RoomTypeMappingIn,
    RoomTypeMismatch,
    WebhooksRegisteredRead,
)
from innsync.crypto import SecretBox
from innsync.db.units import UnitsOfWork
from innsync.errors import ConflictError
from innsync.properties.models import RatePlan, RoomType
from innsync.properties.service import get_owned

T = TypeVar("T")
# What provisioning creates and deleting a connection may remove; the property is never removed.
REMOVABLE_KINDS = ("room_type", "rate_plan")


@dataclass(frozen=True, slots=True)
class _Prepared:
    """What the channel call needs, read in one short transaction."""

    channel: str
    adapter: ChannelAdapter
    catalog: PropertyCatalog


def _prepare(
    session: Session,
    box: SecretBox,
    tenant_id: uuid.UUID,
    connection_id: uuid.UUID,
    http: httpx.AsyncClient,
) -> _Prepared:
    connection = get_owned(session, Connection, tenant_id, connection_id)
    adapter = service.build_adapter(connection, box, http)
    return _Prepared(connection.channel, adapter, property_catalog(session, connection))


async def provision(
    db: UnitsOfWork,
    box: SecretBox,
    tenant_id: uuid.UUID,
    connection_id: uuid.UUID,
    http: httpx.AsyncClient,
) -> ProvisionRead:
    """Create or match the connection's hotel on its channel; store the ids and mappings.

    A ``ChannelError`` from the channel propagates and nothing is stored; running it again is
    safe, since provisioning matches what an earlier, interrupted run created.
    """
    prepared = await db.read(lambda s: _prepare(s, box, tenant_id, connection_id, http))
    adapter = prepared.adapter
    if not isinstance(adapter, ProvisionsProperty):
        raise ConflictError(f"the {prepared.channel} channel cannot provision properties")
    result = await adapter.provision_property(prepared.catalog)
    digest = catalog_digest(prepared.catalog)
    return await db.write(lambda s: _store(s, box, tenant_id, connection_id, result, digest))


def _store(
    session: Session,
    box: SecretBox,
    tenant_id: uuid.UUID,
    connection_id: uuid.UUID,
    result: ProvisionResult,
    digest: str,
) -> ProvisionRead:
    connection = get_owned(session, Connection, tenant_id, connection_id)
    # What was sent, not what the hotel holds now: a change made during the call differs
    # from it, so the catalog pass sends that change next.
    connection.catalog_digest = digest
    config = effective_config(connection, box)
    updates = dict(result.config_updates)
    if any(config.get(name) != value for name, value in updates.items()):
        # Merged into the stored config (and the bucket key recomputed): only the ids change.
        service.update_connection(
            session, box, tenant_id, connection_id, ConnectionUpdate(config=updates)
        )
    # The hotel may have changed while the channel was called: subjects deleted meanwhile are
    # left out, and mappings of subjects added meanwhile are kept as they were.
    room_ids = set(
        session.scalars(select(RoomType.id).where(RoomType.property_id == connection.property_id))
    )
    plan_ids = set(
        session.scalars(select(RatePlan.id).where(RatePlan.property_id == connection.property_id))
    )
    current = service.read_mappings(session, tenant_id, connection_id)
    rooms = {m.room_type_id: m.channel_code for m in current.room_types}
    rooms.update({uuid.UUID(k): v for k, v in result.remote_ids("room_type").items()})
    plans = {m.rate_plan_id: m.channel_code for m in current.rate_plans}
    plans.update({uuid.UUID(k): v for k, v in result.remote_ids("rate_plan").items()})
    mappings = service.set_mappings(
        session,
        tenant_id,
        connection_id,
        MappingsWrite(
            room_types=[
                RoomTypeMappingIn(room_type_id=k, channel_code=v)
                for k, v in rooms.items()
                if k in room_ids
            ],
            rate_plans=[
                RatePlanMappingIn(rate_plan_id=k, channel_code=v)
                for k, v in plans.items()
                if k in plan_ids
            ],
        ),
    )
    _remember_created(session, connection, result)
    actions = [item.action for item in result.items]
    return ProvisionRead(
        connection_id=connection_id,
        remote_property_id=result.remote_property_id,
        created=actions.count("created"),
        matched=actions.count("matched"),
        updated=actions.count("updated"),
        items=[
            ProvisionedItemRead(
                kind=item.kind,
                action=item.action,
                remote_id=item.remote_id,
                title=item.title,
                subject_id=uuid.UUID(item.key) if item.key else None,
                changed=list(item.changed),
            )
            for item in result.items
        ],
        mappings=mappings,
    )


def _remember_created(session: Session, connection: Connection, result: ProvisionResult) -> None:
    """Record the room types and rate plans this run created (not those it matched)."""
    rows = session.execute(
        select(ProvisionedEntity.kind, ProvisionedEntity.remote_id).where(
            ProvisionedEntity.connection_id == connection.id
        )
    )
    known = {(kind, remote_id) for kind, remote_id in rows}
    for item in result.items:
        made = (item.kind, item.remote_id)
        if item.action == "created" and item.kind in REMOVABLE_KINDS and made not in known:
            known.add(made)
            session.add(
                ProvisionedEntity(
                    tenant_id=connection.tenant_id,
                    connection_id=connection.id,
                    kind=item.kind,
                    remote_id=item.remote_id,
                )
            )


async def read_remote_catalog(
    db: UnitsOfWork,
    box: SecretBox,
    tenant_id: uuid.UUID,
    connection_id: uuid.UUID,
    http: httpx.AsyncClient,
) -> RemoteCatalogRead:
    """What the channel holds for the connection's property, and how the mappings fit it."""
    prepared = await db.read(lambda s: _prepare(s, box, tenant_id, connection_id, http))
    adapter = prepared.adapter
    if not isinstance(adapter, ReadsRemoteCatalog):
        raise ConflictError(
            f"the {prepared.channel} channel cannot list its room types and rate plans"
        )
    remote = await adapter.read_remote_catalog()
    return RemoteCatalogRead(
        remote_property_id=remote.remote_property_id,
        room_types=[
            RemoteRoomTypeRead(
                remote_id=room.remote_id,
                title=room.title,
                units=room.units,
                max_adults=room.max_adults,
                max_children=room.max_children,
                default_occupancy=room.default_occupancy,
            )
            for room in remote.room_types
        ],
        rate_plans=[
            RemoteRatePlanRead(
                remote_id=plan.remote_id,
                room_type_remote_id=plan.room_type_remote_id,
                title=plan.title,
                pricing=plan.pricing,
                occupancies=list(plan.occupancies),
                primary_occupancy=plan.primary_occupancy,
            )
            for plan in remote.rate_plans
        ],
        check=check_mappings(prepared.catalog, remote),
    )


class RemovesRemoteCatalog(RemovesRemoteRatePlans, RemovesRemoteRoomTypes, Protocol):
    """An adapter that can delete the channel's rate plans and room types."""


def _remover(prepared: _Prepared) -> tuple[ReadsRemoteCatalog, RemovesRemoteCatalog]:
    adapter = prepared.adapter
    if not (
        isinstance(adapter, ReadsRemoteCatalog)
        and isinstance(adapter, RemovesRemoteRatePlans)
        and isinstance(adapter, RemovesRemoteRoomTypes)
    ):
        raise ConflictError(
            f"the {prepared.channel} channel cannot remove its room types and rate plans"
        )
    return adapter, cast(RemovesRemoteCatalog, adapter)


async def remove_unused(
    db: UnitsOfWork,
    box: SecretBox,
    tenant_id: uuid.UUID,
    connection_id: uuid.UUID,
    http: httpx.AsyncClient,
) -> RemoteRemovalRead:
    """Delete the channel's rate plans, then room types, that no mapping of this connection uses.

    Only on the operator's request, never as part of provisioning: an entity the hotelier made
    on the channel by hand is unused too. The lists are read from the channel at the moment of
    the call (what ``remote-catalog`` shows as ``unused_remote_*``).
    """
    prepared = await db.read(lambda s: _prepare(s, box, tenant_id, connection_id, http))
    reader, remover = _remover(prepared)
    remote = await reader.read_remote_catalog()
    check = check_mappings(prepared.catalog, remote)
    return await _remove_remote(
        remover, remote, check.unused_remote_rate_plans, check.unused_remote_room_types
    )


async def delete_with_remote(
    db: UnitsOfWork,
    box: SecretBox,
    tenant_id: uuid.UUID,
    connection_id: uuid.UUID,
    http: httpx.AsyncClient,
) -> RemoteRemovalRead:
    """Remove on the channel the room types and rate plans provisioning created for this
    connection, then delete it.

    Entities provisioning matched (the hotelier's own) stay, as does one another connection
    of the tenant maps, and a room type that keeps any rate plan. The property stays: the
    hotelier's OTA links live on it. A channel error propagates and the connection is kept,
    so the call can be repeated; what was already removed is then no longer listed.
    """

    def prepare(session: Session) -> tuple[_Prepared, dict[str, set[str]]]:
        prepared = _prepare(session, box, tenant_id, connection_id, http)
        elsewhere: set[str] = set()
        for model in (RoomTypeMapping, RatePlanMapping):
            query = (
                select(model.channel_code)
                .join(Connection, Connection.id == model.connection_id)
                .where(Connection.tenant_id == tenant_id, Connection.id != connection_id)
            )
            elsewhere.update(session.scalars(query))
        created: dict[str, set[str]] = {kind: set() for kind in REMOVABLE_KINDS}
        for kind, remote_id in session.execute(
            select(ProvisionedEntity.kind, ProvisionedEntity.remote_id).where(
                ProvisionedEntity.connection_id == connection_id
            )
        ):
            if remote_id not in elsewhere:
                created[kind].add(remote_id)
        return prepared, created

    prepared, created = await db.read(prepare)
    reader, remover = _remover(prepared)
    remote = await reader.read_remote_catalog()
    plans = sorted(created["rate_plan"] & {plan.remote_id for plan in remote.rate_plans})
    rooms = sorted(created["room_type"] & {room.remote_id for room in remote.room_types})
    report = await _remove_remote(remover, remote, plans, rooms)

    def delete(session: Session) -> None:
        service.delete_connection(session, tenant_id, connection_id)
        # What is kept stays recorded, so a later call can try it again.
        gone = set(report.removed) | set(report.removed_room_types)
        session.execute(
            sa_delete(ProvisionedEntity).where(
                ProvisionedEntity.connection_id == connection_id,
                ProvisionedEntity.remote_id.in_(gone),
            )
        )

    await db.write(delete)
    report.kept_property = RemoteItemKept(
        remote_id=remote.remote_property_id,
        reason="the property is never removed: the OTA links made on the channel live on it",
    )
    return report


async def _remove_remote(
    adapter: RemovesRemoteCatalog,
    remote: RemoteCatalog,
    rate_plans: Sequence[str],
    room_types: Sequence[str],
) -> RemoteRemovalRead:
    """Delete the rate plans, then each room type no remaining rate plan belongs to.

    A refusal keeps the entity, with the channel's reason, and the rest go on. A room type
    still holding a plan is not even tried: the channel would delete or orphan that plan.
    """
    report = RemoteRemovalRead(removed=[], kept=[])
    for remote_id in rate_plans:
        try:
            await adapter.remove_remote_rate_plan(remote_id)
        except ChannelRejectedError as exc:  # e.g. an OTA still maps it
            report.kept.append(RemoteItemKept(remote_id=remote_id, reason=str(exc)[:500]))
        else:
            report.removed.append(remote_id)
    gone = set(report.removed)
    for remote_id in room_types:
        holding = sorted(
            plan.remote_id
            for plan in remote.rate_plans
            if plan.room_type_remote_id == remote_id and plan.remote_id not in gone
        )
        if holding:
            reason = f"still has rate plan(s) {', '.join(holding)}"
            report.kept_room_types.append(RemoteItemKept(remote_id=remote_id, reason=reason))
            continue
        try:
            await adapter.remove_remote_room_type(remote_id)
        except ChannelRejectedError as exc:
            reason = str(exc)[:500]
            report.kept_room_types.append(RemoteItemKept(remote_id=remote_id, reason=reason))
        else:
            report.removed_room_types.append(remote_id)
    return report


def check_mappings(catalog: PropertyCatalog, remote: RemoteCatalog) -> MappingCheck:
    """Compare innsync's mappings (the catalog's remote ids) with what the channel holds."""
    remote_rooms = {room.remote_id for room in remote.room_types}
    remote_plans = {plan.remote_id: plan for plan in remote.rate_plans}
    room_codes = {room.key: room.remote_id for room in catalog.room_types}
    dangling_rooms = [
        RoomTypeMappingIn(room_type_id=uuid.UUID(room.key), channel_code=room.remote_id)
        for room in catalog.room_types
        if room.remote_id is not None and room.remote_id not in remote_rooms
    ]
    dangling_plans = [
        RatePlanMappingIn(rate_plan_id=uuid.UUID(plan.key), channel_code=plan.remote_id)
        for plan in catalog.rate_plans
        if plan.remote_id is not None and plan.remote_id not in remote_plans
    ]
    mismatches = []
    for plan in catalog.rate_plans:
        found = remote_plans.get(plan.remote_id or "")
        expected = room_codes.get(plan.room_type_key)
        if found is not None and found.room_type_remote_id != expected:
            mismatches.append(
                RoomTypeMismatch(
                    rate_plan_id=uuid.UUID(plan.key),
                    channel_code=found.remote_id,
                    expected_room_type_code=expected,
                    remote_room_type_code=found.room_type_remote_id,
                )
            )
    unmapped_rooms = [uuid.UUID(r.key) for r in catalog.room_types if r.remote_id is None]
    unmapped_plans = [uuid.UUID(p.key) for p in catalog.rate_plans if p.remote_id is None]
    used_rooms = {room.remote_id for room in catalog.room_types}
    used_plans = {plan.remote_id for plan in catalog.rate_plans}
    return MappingCheck(
        is_consistent=not (
            unmapped_rooms or unmapped_plans or dangling_rooms or dangling_plans or mismatches
        ),
        unmapped_room_types=unmapped_rooms,
        unmapped_rate_plans=unmapped_plans,
        dangling_room_types=dangling_rooms,
        dangling_rate_plans=dangling_plans,
        room_type_mismatches=mismatches,
        unused_remote_room_types=sorted(remote_rooms - used_rooms),
        unused_remote_rate_plans=sorted(set(remote_plans) - used_plans),
    )


async def register_webhooks(
    db: UnitsOfWork,
    box: SecretBox,
    tenant_id: uuid.UUID,
    connection_id: uuid.UUID,
    http: httpx.AsyncClient,
    public_url: str,
) -> WebhooksRegisteredRead:
    """Subscribe the connection's webhook URL (``<public_url>/hooks/<token>``) on its channel."""

    def prepare(session: Session) -> tuple[str, ChannelAdapter, str]:
        connection = get_owned(session, Connection, tenant_id, connection_id)
        if not connection.webhook_enabled:
            raise ConflictError("webhooks are switched off for this connection")
        secret_field = channel_kind(connection.channel).webhook_verifier_field
        if secret_field is not None and not effective_config(connection, box).get(secret_field):
            # The channel would call with no secret, and innsync refuses every such webhook.
            raise ConflictError(
                f"set the connection's {secret_field} first (PATCH the connection with "
                f'{{"config": {{"{secret_field}": "..."}}}}): without it every webhook the '
                "channel sends is refused"
            )
        # An OAuth channel has no other way in than the connection's stored tokens; the others
        # sign in with their config, as before, and leave the worker's tokens alone.
        tokens = db.sessions if connection.channel in OAUTH_CHANNELS else None
        adapter = service.build_adapter(connection, box, http, tokens)
        return connection.channel, adapter, connection.webhook_token

    channel, adapter, token = await db.read(prepare)
    if not isinstance(adapter, RegistersWebhooks):
        raise ConflictError(f"the {channel} channel takes no webhook subscriptions")
    callback_url = f"{public_url.rstrip('/')}/hooks/{token}"
    changed = await adapter.register_webhooks(callback_url)
    return WebhooksRegisteredRead(callback_url=callback_url, changed=changed)

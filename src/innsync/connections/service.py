"""Use-cases for connections: create with encrypted config, map codes, full sync, dead letters."""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast

import httpx
from pydantic import BaseModel
from sqlalchemy import delete, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session, sessionmaker

from innsync.channels import registry
from innsync.channels.contract import ChannelAdapter, PushesReservations, capabilities_of
from innsync.channels.credentials import CredentialStore
from innsync.channels.registry import AdapterContext
from innsync.connections import audit, otas
from innsync.connections.accounts import usable_account
from innsync.connections.configs import (
    ACCOUNT_FIELD,
    account_part,
    bucket_key,
    channel_kind,
    effective_config,
    inspection_client,
    own_part,
    public_config,
    stored_part,
    validated_config,
)
from innsync.connections.credentials import DatabaseAccountCredentials, DatabaseCredentialStore
from innsync.connections.models import (
    ChannelAccount,
    Connection,
    RatePlanMapping,
    RoomTypeMapping,
)
from innsync.connections.schemas import (
    ConnectionCreate,
    ConnectionRead,
    ConnectionUpdate,
    MappingsRead,
    MappingsWrite,
    OtaSummary,
    RatePlanMappingIn,
    RoomTypeMappingIn,
    SwitchChangeRead,
)
from innsync.crypto import SecretBox
from innsync.errors import InvalidInputError, ProblemCollector
from innsync.inbox.service import reprocess_parked
from innsync.inventory.availability import replace_channel_blocks
from innsync.inventory.models import Block
from innsync.outbox.marks import ConnectionMarks, mark_connection, mark_connections
from innsync.outbox.models import DirtyMark
from innsync.properties.models import Property, RatePlan, RoomType
from innsync.properties.service import get_owned, horizon
from innsync.stay_dates import DateRange
from innsync.sync import dead_letters
from innsync.sync.dead_letters import DeadLetterFilter
from innsync.sync.models import AckedAvailability, AckedRate, DeadLetter

WEBHOOK_PREFIX = "/hooks/"
# Connections per round of statements when many full syncs start at once: IN lists stay short.
FULL_SYNC_CHUNK = 500


def build_adapter(
    connection: Connection,
    box: SecretBox,
    http: httpx.AsyncClient,
    sessions: sessionmaker[Session] | None = None,
) -> ChannelAdapter:
    """An adapter for one connection, from its decrypted config (no I/O happens here).

    A connection on an operator's account gets the account's current fields merged in. With
    ``sessions`` the adapter keeps the tokens its channel issues in the database, shared by every
    process (a channel account's, like Booking.com's machine account, by all its connections);
    without, in memory for as long as the adapter lives.
    """
    config = effective_config(connection, box)
    context = AdapterContext(http=http)
    if sessions is not None:
        context = AdapterContext(
            http=http,
            credentials=DatabaseCredentialStore(sessions, box, connection.id),
            accounts=DatabaseAccountCredentials(sessions, box),
        )
    return registry.build_adapter(connection.channel, config, context)


def _split_account(
    session: Session, tenant_id: uuid.UUID, channel: str, config: dict[str, Any]
) -> tuple[dict[str, Any], ChannelAccount | None, bool]:
    """The config without its ``account`` field, the account it names, and whether it named
    one (``"account": null`` names none: back to the connection's own credentials)."""
    own = dict(config)
    if ACCOUNT_FIELD not in own:
        return own, None, False
    reference = own.pop(ACCOUNT_FIELD)
    if reference is None:
        return own, None, True
    return own, usable_account(session, tenant_id, channel, reference), True


def _new_config(
    session: Session, box: SecretBox, tenant_id: uuid.UUID, data: ConnectionCreate
) -> tuple[BaseModel, ChannelAccount | None]:
    own, account, _ = _split_account(session, tenant_id, data.channel, data.config)
    return validated_config(data.channel, own, account, box), account


def _patched_config(
    session: Session, box: SecretBox, connection: Connection, patch: dict[str, Any]
) -> tuple[BaseModel, ChannelAccount | None]:
    """The stored config with the patch's fields replacing theirs; absent fields are kept, so
    secrets stay unless given and what provisioning stored (a property id) survives."""
    given, account, names_account = _split_account(
        session, connection.tenant_id, connection.channel, patch
    )
    if not names_account:
        account = connection.account
    held = account_part(account, box) if account is not None else {}
    kept = {k: v for k, v in stored_part(connection, box).items() if k not in held}
    return validated_config(connection.channel, {**kept, **given}, account, box), account


def adapter_for_new(
    session: Session,
    box: SecretBox,
    tenant_id: uuid.UUID,
    property_id: uuid.UUID,
    data: ConnectionCreate,
    http: httpx.AsyncClient,
    credentials: CredentialStore | None = None,
) -> ChannelAdapter:
    """The adapter a connection being created would get, to test it before it is stored;
    what the channel issues during the test goes to ``credentials`` (see keep_credentials)."""
    get_owned(session, Property, tenant_id, property_id)
    config, _ = _new_config(session, box, tenant_id, data)
    return channel_kind(data.channel).build(config, _test_context(http, credentials))


def adapter_for_patch(
    session: Session,
    box: SecretBox,
    tenant_id: uuid.UUID,
    connection_id: uuid.UUID,
    patch: dict[str, Any],
    http: httpx.AsyncClient,
    credentials: CredentialStore | None = None,
) -> ChannelAdapter:
    """The adapter a connection would get with its config patched, to test it before storing."""
    connection = get_owned(session, Connection, tenant_id, connection_id)
    config, _ = _patched_config(session, box, connection, patch)
    return channel_kind(connection.channel).build(config, _test_context(http, credentials))


def _test_context(http: httpx.AsyncClient, credentials: CredentialStore | None) -> AdapterContext:
    if credentials is None:
        return AdapterContext(http=http)
    return AdapterContext(http=http, credentials=credentials)


def create_connection(
    session: Session,
    box: SecretBox,
    tenant_id: uuid.UUID,
    property_id: uuid.UUID,
    data: ConnectionCreate,
) -> Connection:
    get_owned(session, Property, tenant_id, property_id)
    config, account = _new_config(session, box, tenant_id, data)
    connection_id = uuid.uuid4()
    connection = Connection(
        id=connection_id,
        tenant_id=tenant_id,
        property_id=property_id,
        channel=data.channel,
        name=data.name,
        config_encrypted=box.encrypt(json.dumps(own_part(config, account, box))),
        account_id=account.id if account is not None else None,
        account=account,
        push_enabled=data.push_enabled,
        push_bookings=(
            data.push_bookings
            if data.push_bookings is not None
            else isinstance(
                channel_kind(data.channel).build(config, AdapterContext(http=inspection_client())),
                PushesReservations,
            )
        ),
        pull_enabled=data.pull_enabled,
        webhook_enabled=data.webhook_enabled,
        shadow_mode=data.shadow_mode,
        state="pending",
        state_reason="",
        webhook_token=secrets.token_urlsafe(32),
        bucket_key=bucket_key(data.channel, connection_id, config),
        consecutive_failures=0,
    )
    session.add(connection)
    session.flush()
    return connection


def update_connection(
    session: Session,
    box: SecretBox,
    tenant_id: uuid.UUID,
    connection_id: uuid.UUID,
    data: ConnectionUpdate,
    actor: str = audit.SYSTEM_ACTOR,
) -> Connection:
    """Change what is given; a config is merged into the stored one (see ``_patched_config``).

    Every switch that changes is audited (``connections.audit``) under ``actor``.
    """
    connection = get_owned(session, Connection, tenant_id, connection_id)
    before = audit.switches_of(connection)
    was_pushing = _sends(connection)
    if data.config is not None:
        config, account = _patched_config(session, box, connection, data.config)
        connection.config_encrypted = box.encrypt(json.dumps(own_part(config, account, box)))
        connection.account_id = account.id if account is not None else None
        connection.account = account
        # Another key may be another account, so another budget (and lease).
        connection.bucket_key = bucket_key(connection.channel, connection.id, config)
    for name in (
        "name",
        "push_enabled",
        "push_bookings",
        "pull_enabled",
        "webhook_enabled",
        "shadow_mode",
    ):
        value = getattr(data, name)
        if value is not None:
            setattr(connection, name, value)
    if data.state is not None:
        if data.state not in ("connected", "disabled"):
            raise InvalidInputError(
                f"state can be set to 'connected' or 'disabled', not '{data.state}'"
            )
        connection.state, connection.state_reason = data.state, ""
        connection.consecutive_failures, connection.breaker_open_until = 0, None
    if connection.account is not None and connection.state != "disabled":
        # The account may have been revoked while the connection was disabled.
        usable_account(session, tenant_id, connection.channel, str(connection.account.id))
    audit.record_switch_changes(session, connection, before, actor)
    session.flush()
    if _sends(connection) and not was_pushing:
        # Back from a pause or from shadow mode (which cleared marks without sending): what
        # the channel holds is unknown, so everything is sent again.
        start_full_sync(session, connection)
    return connection


def _sends(connection: Connection) -> bool:
    """Whether the worker sends this connection's changes to the channel."""
    return (
        connection.push_enabled
        and not connection.shadow_mode
        and connection.state in ("pending", "connected")
    )


def delete_connection(session: Session, tenant_id: uuid.UUID, connection_id: uuid.UUID) -> None:
    connection = get_owned(session, Connection, tenant_id, connection_id)
    # Dates the channel showed closed stop closing innsync's nights with the connection.
    owned = select(Block.room_type_id).where(Block.connection_id == connection.id).distinct()
    for room_type in session.scalars(select(RoomType).where(RoomType.id.in_(owned))):
        replace_channel_blocks(session, connection.id, room_type, [], "")
    for model in (
        DirtyMark,
        AckedAvailability,
        AckedRate,
        DeadLetter,
        RoomTypeMapping,
        RatePlanMapping,
    ):
        session.execute(delete(model).where(model.connection_id == connection.id))
    connection.state, connection.push_enabled = "disabled", False
    connection.pull_enabled = connection.webhook_enabled = False


def list_connections(
    session: Session, tenant_id: uuid.UUID, property_id: uuid.UUID
) -> list[Connection]:
    get_owned(session, Property, tenant_id, property_id)
    query = select(Connection).where(
        Connection.property_id == property_id, Connection.tenant_id == tenant_id
    )
    return list(session.scalars(query.order_by(Connection.created_at)))


def connection_read(session: Session, box: SecretBox, connection: Connection) -> ConnectionRead:
    pending = session.scalar(select(func.count()).where(DirtyMark.connection_id == connection.id))
    adapter = build_adapter(connection, box, inspection_client())
    config, secrets_held = public_config(connection, box)
    return ConnectionRead(
        id=connection.id,
        property_id=connection.property_id,
        channel=connection.channel,
        name=connection.name,
        push_enabled=connection.push_enabled,
        push_bookings=connection.push_bookings,
        pull_enabled=connection.pull_enabled,
        webhook_enabled=connection.webhook_enabled,
        shadow_mode=connection.shadow_mode,
        switch_history=[
            SwitchChangeRead(
                at=row.created_at,
                actor=row.actor,
                field=str(row.detail.get("field", "")),
                old=row.detail.get("old"),
                new=row.detail.get("new"),
            )
            for row in audit.switch_history(session, connection)
        ],
        state=connection.state,
        state_reason=connection.state_reason,
        webhook_path=WEBHOOK_PREFIX + connection.webhook_token,
        last_full_sync_at=connection.last_full_sync_at,
        pending_marks=int(pending or 0),
        capabilities=sorted(capabilities_of(adapter)),
        account=connection.account.name if connection.account is not None else None,
        config=config,
        secrets_set=secrets_held,
        otas=[
            OtaSummary(ota=o.ota, state=o.state, since=o.state_since, last_error=o.last_error)
            for o in otas.list_for(session, connection.id)
        ],
    )


def set_mappings(
    session: Session, tenant_id: uuid.UUID, connection_id: uuid.UUID, data: MappingsWrite
) -> MappingsRead:
    """Replace the connection's mappings; what changed is forgotten as acknowledged and resent."""
    connection = get_owned(session, Connection, tenant_id, connection_id)
    problems = ProblemCollector()
    _check_codes_unique(data, problems)
    room_types = {
        rt.id: rt
        for rt in session.scalars(
            select(RoomType).where(RoomType.property_id == connection.property_id)
        )
    }
    plans = {
        p.id: p
        for p in session.scalars(
            select(RatePlan).where(RatePlan.property_id == connection.property_id)
        )
    }
    for index, room in enumerate(data.room_types):
        if room.room_type_id not in room_types:
            problems.add(f"/room_types/{index}/room_type_id", "no such room type in this property")
    mapped_rooms = {room.room_type_id for room in data.room_types}
    for index, rate in enumerate(data.rate_plans):
        plan = plans.get(rate.rate_plan_id)
        if plan is None:
            problems.add(f"/rate_plans/{index}/rate_plan_id", "no such rate plan in this property")
        elif plan.room_type_id not in mapped_rooms:
            problems.add(f"/rate_plans/{index}/rate_plan_id", "map the plan's room type first")
    problems.raise_if_any("the mappings are invalid; nothing was changed")

    old_rooms = {
        m.room_type_id: m.channel_code
        for m in session.scalars(
            select(RoomTypeMapping).where(RoomTypeMapping.connection_id == connection.id)
        )
    }
    old_plans = {
        m.rate_plan_id: m.channel_code
        for m in session.scalars(
            select(RatePlanMapping).where(RatePlanMapping.connection_id == connection.id)
        )
    }
    new_rooms = {m.room_type_id: m.channel_code for m in data.room_types}
    new_plans = {m.rate_plan_id: m.channel_code for m in data.rate_plans}
    session.execute(delete(RoomTypeMapping).where(RoomTypeMapping.connection_id == connection.id))
    session.execute(delete(RatePlanMapping).where(RatePlanMapping.connection_id == connection.id))
    session.flush()
    session.add_all(
        RoomTypeMapping(connection_id=connection.id, room_type_id=k, channel_code=v)
        for k, v in new_rooms.items()
    )
    session.add_all(
        RatePlanMapping(connection_id=connection.id, rate_plan_id=k, channel_code=v)
        for k, v in new_plans.items()
    )

    changed_rooms = {
        k for k in old_rooms.keys() | new_rooms.keys() if old_rooms.get(k) != new_rooms.get(k)
    }
    changed_plans = {
        k for k in old_plans.keys() | new_plans.keys() if old_plans.get(k) != new_plans.get(k)
    }
    # A plan sent under its room's code must be resent when that room's code changes.
    changed_plans |= {k for k in new_plans if plans[k].room_type_id in changed_rooms}
    _forget(session, connection.id, changed_rooms, changed_plans)
    prop = session.get_one(Property, connection.property_id)
    mark_connection(
        session,
        connection.id,
        [k for k in changed_rooms if k in new_rooms],
        [k for k in changed_plans if k in new_plans],
        horizon(prop),
    )
    reprocess_parked(session, connection.id)
    session.flush()
    return read_mappings(session, tenant_id, connection_id)


def _check_codes_unique(data: MappingsWrite, problems: ProblemCollector) -> None:
    for field, items in (("room_types", data.room_types), ("rate_plans", data.rate_plans)):
        seen_codes: dict[str, int] = {}
        seen_ids: dict[uuid.UUID, int] = {}
        for index, item in enumerate(items):
            subject = (
                item.room_type_id
                if isinstance(item, RoomTypeMappingIn)
                else cast(RatePlanMappingIn, item).rate_plan_id
            )
            if item.channel_code in seen_codes:
                problems.add(
                    f"/{field}/{index}/channel_code",
                    f"code '{item.channel_code}' is already mapped at "
                    f"/{field}/{seen_codes[item.channel_code]}",
                )
            if subject in seen_ids:
                problems.add(
                    f"/{field}/{index}", f"mapped twice (see /{field}/{seen_ids[subject]})"
                )
            seen_codes.setdefault(item.channel_code, index)
            seen_ids.setdefault(subject, index)


def _forget(
    session: Session, connection_id: uuid.UUID, rooms: set[uuid.UUID], plans: set[uuid.UUID]
) -> None:
    if rooms:
        session.execute(
            delete(AckedAvailability).where(
                AckedAvailability.connection_id == connection_id,
                AckedAvailability.room_type_id.in_(list(rooms)),
            )
        )
    if plans:
        session.execute(
            delete(AckedRate).where(
                AckedRate.connection_id == connection_id, AckedRate.rate_plan_id.in_(list(plans))
            )
        )


def read_mappings(session: Session, tenant_id: uuid.UUID, connection_id: uuid.UUID) -> MappingsRead:
    connection = get_owned(session, Connection, tenant_id, connection_id)
    rooms = session.scalars(
        select(RoomTypeMapping)
        .where(RoomTypeMapping.connection_id == connection.id)
        .order_by(RoomTypeMapping.channel_code)
    )
    plans = session.scalars(
        select(RatePlanMapping)
        .where(RatePlanMapping.connection_id == connection.id)
        .order_by(RatePlanMapping.channel_code)
    )
    return MappingsRead(
        room_types=[
            RoomTypeMappingIn(room_type_id=m.room_type_id, channel_code=m.channel_code)
            for m in rooms
        ],
        rate_plans=[
            RatePlanMappingIn(rate_plan_id=m.rate_plan_id, channel_code=m.channel_code)
            for m in plans
        ],
    )


def start_full_sync(
    session: Session, connection: Connection, now: datetime | None = None
) -> tuple[int, DateRange]:
    """Forget what the channel acknowledged over the horizon and mark every mapped subject dirty.

    The worker then sends everything, as few requests as the channel's limits allow. It is
    resumable by construction: marks stay until the requests covering them are answered.
    Returns how many subjects were marked, and over which dates.
    """
    return start_full_syncs(session, [connection], now)[connection.id]


def start_full_syncs(
    session: Session, connections: Sequence[Connection], now: datetime | None = None
) -> dict[uuid.UUID, tuple[int, DateRange]]:
    """``start_full_sync`` for many connections, a few statements per ``FULL_SYNC_CHUNK`` of
    them (an operator or the schedule may start thousands at once; one by one, 10,000 took
    80 s in one transaction, ``innsync bench scale``)."""
    now = now or datetime.now(UTC)
    started: dict[uuid.UUID, tuple[int, DateRange]] = {}
    for first in range(0, len(connections), FULL_SYNC_CHUNK):
        started.update(
            _start_full_syncs(session, connections[first : first + FULL_SYNC_CHUNK], now)
        )
    session.flush()
    return started


def _start_full_syncs(
    session: Session, connections: Sequence[Connection], now: datetime
) -> dict[uuid.UUID, tuple[int, DateRange]]:
    ids = [connection.id for connection in connections]
    properties = {
        prop.id: prop
        for prop in session.scalars(
            select(Property).where(Property.id.in_({c.property_id for c in connections}))
        )
    }
    rooms = _mapped(session, RoomTypeMapping.room_type_id, RoomTypeMapping.connection_id, ids)
    plans = _mapped(session, RatePlanMapping.rate_plan_id, RatePlanMapping.connection_id, ids)
    _forget_acknowledged(session, ids)
    work, started = [], {}
    for connection in connections:
        dates = horizon(properties[connection.property_id], now)
        mine_rooms, mine_plans = rooms.get(connection.id, []), plans.get(connection.id, [])
        work.append(ConnectionMarks(connection.id, mine_rooms, mine_plans, dates))
        connection.last_full_sync_at = now
        started[connection.id] = (len(mine_rooms) + len(mine_plans), dates)
    mark_connections(session, work)
    return started


def _mapped(
    session: Session,
    subject: InstrumentedAttribute[uuid.UUID],
    owner: InstrumentedAttribute[uuid.UUID],
    connection_ids: list[uuid.UUID],
) -> dict[uuid.UUID, list[uuid.UUID]]:
    """The mapped subjects (room types or rate plans) of each connection."""
    found: dict[uuid.UUID, list[uuid.UUID]] = {}
    for connection_id, subject_id in session.execute(
        select(owner, subject).where(owner.in_(connection_ids))
    ):
        found.setdefault(connection_id, []).append(subject_id)
    return found


def _forget_acknowledged(session: Session, connection_ids: list[uuid.UUID]) -> None:
    """Everything the channel acknowledged on these connections. Only mapped subjects have any:
    a mapping changed or removed forgets its subject's (``_forget``). One range of the primary
    key per connection; matching each row against the mappings instead made PostgreSQL scan
    the whole table."""
    session.execute(
        delete(AckedAvailability).where(AckedAvailability.connection_id.in_(connection_ids))
    )
    session.execute(delete(AckedRate).where(AckedRate.connection_id.in_(connection_ids)))


def replay_dead_letters(
    session: Session,
    tenant_id: uuid.UUID,
    connection_id: uuid.UUID,
    where: DeadLetterFilter | None = None,
) -> int:
    """Mark the dates of the unreplayed dead letters (those matching ``where``, all without)
    dirty again, after fixing their cause."""
    connection = get_owned(session, Connection, tenant_id, connection_id)
    return dead_letters.replay(
        session, connection.id, where or DeadLetterFilter(), datetime.now(UTC)
    )

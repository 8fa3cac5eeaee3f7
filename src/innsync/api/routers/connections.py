"""Connections to channels, their mappings, full sync, the sync log and dead letters."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import date, datetime, timedelta
from typing import Annotated, Literal, TypeVar

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from innsync.api import connection_setup
from innsync.api.channel_calls import ChannelHttp, calling_channel
from innsync.api.deps import Admin, Box, Db, Reader, Rules, Writer
from innsync.connections import accounts, audit, history, otas, provisioning, service
from innsync.connections.accounts import account_read
from innsync.connections.models import Connection
from innsync.connections.schemas import (
    ChannelAccountRead,
    ConnectionCreate,
    ConnectionRead,
    ConnectionTested,
    ConnectionUpdate,
    DeadLetterRead,
    FullSyncStarted,
    MappingsRead,
    MappingsWrite,
    OtaChannelRead,
    ProvisionRead,
    RemoteCatalogRead,
    RemoteRemovalRead,
    SyncLogRead,
    WebhooksRegisteredRead,
)
from innsync.errors import InvalidInputError
from innsync.properties.service import get_owned
from innsync.sync import dead_letters
from innsync.sync.dead_letters import DeadLetterFilter

router = APIRouter(tags=["connections"])
T = TypeVar("T")


@router.get("/channels")
async def list_channels(who: Reader, rules: Rules) -> list[str]:
    """The channel kinds this innsync can connect to (test-only kinds in development only)."""
    return rules.kinds()


TestFirst = Annotated[
    bool,
    Query(
        alias="test",
        description="Run the channel's connection test with the new config before storing it "
        "(default); false stores it untested, for setting up while the channel is unreachable",
    ),
]


@router.get("/channel-accounts")
async def list_channel_accounts(db: Db, who: Reader, box: Box) -> list[ChannelAccountRead]:
    """The operator's channel accounts this tenant may connect with (names, never secrets).

    Connect with ``{"account": "<name>", ...}`` in a connection's config.
    """
    return await db.read(
        lambda s: [account_read(a, box) for a in accounts.granted_accounts(s, who.tenant_id)]
    )


@router.post("/properties/{property_id}/connections", status_code=status.HTTP_201_CREATED)
async def create_connection(
    property_id: uuid.UUID,
    data: ConnectionCreate,
    db: Db,
    who: Admin,
    box: Box,
    http: ChannelHttp,
    rules: Rules,
    test: TestFirst = True,
) -> ConnectionRead:
    """Connect the property to a channel; the credentials are tested with the channel first.

    A key the channel refuses is a 422 with the channel's answer and nothing is stored. So is
    a test-only channel kind outside development mode, a channel API URL other than the
    kind's own (unless the operator allows overrides) and a URL the outbound policy refuses
    (loopback, private, link-local, metadata…).
    """
    # Tokens the test obtains are kept with the connection (api/connection_setup.py).
    return await connection_setup.create_tested(
        db, box, rules, http, who.tenant_id, property_id, data, test
    )


@router.get("/properties/{property_id}/connections")
async def list_connections(
    property_id: uuid.UUID, db: Db, who: Reader, box: Box
) -> list[ConnectionRead]:
    """The property's connections, secrets never shown."""
    return await db.read(
        lambda s: [
            service.connection_read(s, box, connection)
            for connection in service.list_connections(s, who.tenant_id, property_id)
        ]
    )


@router.get("/connections/{connection_id}")
async def get_connection(connection_id: uuid.UUID, db: Db, who: Reader, box: Box) -> ConnectionRead:
    """One connection, secrets never shown."""
    return await db.read(
        lambda s: service.connection_read(
            s, box, get_owned(s, Connection, who.tenant_id, connection_id)
        )
    )


@router.patch("/connections/{connection_id}")
async def update_connection(
    connection_id: uuid.UUID,
    data: ConnectionUpdate,
    db: Db,
    who: Admin,
    box: Box,
    http: ChannelHttp,
    rules: Rules,
    test: TestFirst = True,
) -> ConnectionRead:
    """Change the given fields; a config is merged into the stored one, secrets kept unless
    given. A changed config is checked and tested with the channel first, as on creation."""
    return await connection_setup.update_tested(
        db, box, rules, http, who.tenant_id, connection_id, data, audit.api_actor(who.key_id), test
    )


@router.post("/connections/{connection_id}/test")
async def test_connection(
    connection_id: uuid.UUID, db: Db, who: Writer, box: Box, http: ChannelHttp
) -> ConnectionTested:
    """Call the channel with the stored config: proves the credentials (and the account's).

    The adapter keeps the connection's channel tokens in the database, as the worker's does: a
    single-use invite code exchanged here leaves its refresh token stored.
    """
    adapter = await db.read(
        lambda s: service.build_adapter(
            get_owned(s, Connection, who.tenant_id, connection_id), box, http, db.sessions
        )
    )
    await calling_channel(adapter.test_connection())
    return ConnectionTested(connection_id=connection_id, ok=True)


RemoveRemote = Annotated[
    bool,
    Query(
        description="Also remove on the channel the room types and rate plans provisioning "
        "created for this connection (never by default); answers 200 with what was removed "
        "and kept"
    ),
]


@router.delete(
    "/connections/{connection_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_model=None,
    responses={200: {"model": RemoteRemovalRead, "description": "with remove_remote=true"}},
)
async def delete_connection(
    connection_id: uuid.UUID,
    db: Db,
    who: Admin,
    box: Box,
    http: ChannelHttp,
    remove_remote: RemoveRemote = False,
) -> Response:
    """Disconnect: nothing more is sent or received; the sync log is kept for audit.

    With ``remove_remote=true`` the channel's room types and rate plans provisioning created
    for it are removed first; a channel error leaves the connection as it was.
    """
    if not remove_remote:
        await db.write(lambda s: service.delete_connection(s, who.tenant_id, connection_id))
        return Response(status_code=status.HTTP_204_NO_CONTENT)
    report = await calling_channel(
        provisioning.delete_with_remote(db, box, who.tenant_id, connection_id, http)
    )
    return JSONResponse(report.model_dump(mode="json"))


@router.put("/connections/{connection_id}/mappings")
async def set_mappings(
    connection_id: uuid.UUID, data: MappingsWrite, db: Db, who: Writer
) -> MappingsRead:
    """Replace the connection's room type and rate plan mappings to channel codes."""
    return await db.write(lambda s: service.set_mappings(s, who.tenant_id, connection_id, data))


@router.get("/connections/{connection_id}/mappings")
async def read_mappings(connection_id: uuid.UUID, db: Db, who: Reader) -> MappingsRead:
    """The connection's room type and rate plan mappings."""
    return await db.read(lambda s: service.read_mappings(s, who.tenant_id, connection_id))


@router.post("/connections/{connection_id}/full-sync", status_code=status.HTTP_202_ACCEPTED)
async def full_sync(connection_id: uuid.UUID, db: Db, who: Writer) -> FullSyncStarted:
    """Send everything again over the horizon; progress shows as ``pending_marks`` falling to 0."""

    def start(session: Session) -> FullSyncStarted:
        connection = get_owned(session, Connection, who.tenant_id, connection_id)
        marks, dates = service.start_full_sync(session, connection)
        return FullSyncStarted(
            connection_id=connection.id,
            marks=marks,
            date_from=dates.start.isoformat(),
            date_to=dates.last.isoformat(),
        )

    return await db.write(start)


@router.get("/connections/{connection_id}/sync-log")
async def read_sync_log(
    connection_id: uuid.UUID,
    db: Db,
    who: Reader,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    outcome: Annotated[
        str | None,
        Query(
            max_length=24,
            description='Only rows with this outcome, e.g. "shadow" (what shadow mode kept '
            'back), "rejected", "unavailable"',
        ),
    ] = None,
) -> list[SyncLogRead]:
    """The newest calls to the channel for this connection, newest first; in shadow mode the
    requests that would have been sent, with outcome ``shadow`` and their entries."""

    def read(session: Session) -> list[SyncLogRead]:
        rows = history.read_sync_log(session, who.tenant_id, connection_id, outcome, limit)
        return [
            SyncLogRead(
                id=row.id,
                kind=row.kind,
                entries=row.entries,
                first_date=row.first_date.isoformat() if row.first_date else None,
                last_date=row.last_date.isoformat() if row.last_date else None,
                request_bytes=row.request_bytes,
                outcome=row.outcome,
                detail=row.detail,
                task_id=row.task_id,
                duration_ms=row.duration_ms,
                created_at=row.created_at,
            )
            for row in rows
        ]

    return await db.read(read)


@router.get("/connections/{connection_id}/channels")
async def read_ota_channels(connection_id: uuid.UUID, db: Db, who: Reader) -> list[OtaChannelRead]:
    """The OTAs behind a channel-manager connection, with their state and last error."""

    def read(session: Session) -> list[OtaChannelRead]:
        connection = get_owned(session, Connection, who.tenant_id, connection_id)
        return [
            OtaChannelRead.model_validate(row, from_attributes=True)
            for row in otas.list_for(session, connection.id)
        ]

    return await db.read(read)


def dead_letter_filter(
    kind: Annotated[
        Literal["availability", "rates"] | None, Query(description="The subject kind")
    ] = None,
    date_from: Annotated[
        date | None, Query(description="Only letters whose stay dates reach this date or later")
    ] = None,
    date_to: Annotated[
        date | None, Query(description="Only letters whose stay dates start on or before this date")
    ] = None,
    error_text: Annotated[
        str | None,
        Query(
            min_length=1, max_length=200, description="The channel's reason contains it (any case)"
        ),
    ] = None,
    created_since: Annotated[
        datetime | None, Query(description="Refused at or after this time")
    ] = None,
) -> DeadLetterFilter:
    """The dead letters an operator picks; every condition given must hold."""
    if date_from is not None and date_to is not None and date_to < date_from:
        raise InvalidInputError("date_to must not be before date_from")
    return DeadLetterFilter(
        kind=kind,
        date_from=date_from,
        # Inclusive in the API, half-open inside innsync.
        date_to=date_to + timedelta(days=1) if date_to is not None else None,
        error_text=error_text,
        created_since=created_since,
    )


DeadLetterChoice = Annotated[DeadLetterFilter, Depends(dead_letter_filter)]


@router.get("/connections/{connection_id}/dead-letters")
async def read_dead_letters(
    connection_id: uuid.UUID,
    db: Db,
    who: Reader,
    where: DeadLetterChoice,
    include_replayed: Annotated[
        bool, Query(description="Also list letters already replayed")
    ] = True,
) -> list[DeadLetterRead]:
    """Entries the channel refused, with its reasons, waiting for a replay; filtered by kind,
    stay dates, the reason's text and when they were refused."""
    chosen = dataclasses.replace(where, include_replayed=include_replayed)

    def read(session: Session) -> list[DeadLetterRead]:
        connection = get_owned(session, Connection, who.tenant_id, connection_id)
        rows = session.scalars(dead_letters.matching(connection.id, chosen))
        return [
            DeadLetterRead(
                id=row.id,
                kind=row.kind,
                subject_id=row.subject_id,
                date_from=row.start.isoformat(),
                date_to=row.end.isoformat(),
                payload=row.payload,
                reason=row.reason,
                created_at=row.created_at,
                replayed_at=row.replayed_at,
            )
            for row in rows
        ]

    return await db.read(read)


@router.post("/connections/{connection_id}/dead-letters/replay")
async def replay_dead_letters(
    connection_id: uuid.UUID, db: Db, who: Writer, where: DeadLetterChoice
) -> dict[str, int]:
    """Send the refused entries' dates again (after fixing what the channel complained about);
    only the unreplayed letters matching the filters (all without)."""
    return {
        "replayed": await db.write(
            lambda s: service.replay_dead_letters(s, who.tenant_id, connection_id, where)
        )
    }


@router.post("/connections/{connection_id}/provision")
async def provision(
    connection_id: uuid.UUID, db: Db, who: Admin, box: Box, http: ChannelHttp
) -> ProvisionRead:
    """Create or match the property, room types and rate plans on the channel; map them.

    Safe to repeat: a second run creates nothing and answers the same ids. The channel's
    property id is stored in the connection's config; what changed is queued for sending.
    """
    return await calling_channel(
        provisioning.provision(db, box, who.tenant_id, connection_id, http)
    )


@router.post("/connections/{connection_id}/remote-catalog/remove-unused")
async def remove_unused(
    connection_id: uuid.UUID, db: Db, who: Admin, box: Box, http: ChannelHttp
) -> RemoteRemovalRead:
    """Delete the channel's rate plans, then room types, no mapping uses (after unmapping what
    was removed here); some are kept (an OTA still maps them, a room type still has a rate
    plan), each listed with the reason."""
    return await calling_channel(
        provisioning.remove_unused(db, box, who.tenant_id, connection_id, http)
    )


@router.get("/connections/{connection_id}/remote-catalog")
async def read_remote_catalog(
    connection_id: uuid.UUID, db: Db, who: Reader, box: Box, http: ChannelHttp
) -> RemoteCatalogRead:
    """The channel's room types and rate plans, and what is wrong with the mappings."""
    return await calling_channel(
        provisioning.read_remote_catalog(db, box, who.tenant_id, connection_id, http)
    )


@router.post("/connections/{connection_id}/webhooks/register")
async def register_webhooks(
    connection_id: uuid.UUID, request: Request, db: Db, who: Admin, box: Box, http: ChannelHttp
) -> WebhooksRegisteredRead:
    """Subscribe the connection's webhook URL on the channel, with its secret; safe to repeat.

    The URL starts with the ``INNSYNC_PUBLIC_URL`` setting, or the URL this API was called on.
    """
    public_url = request.app.state.settings.public_url or str(request.base_url)
    return await calling_channel(
        provisioning.register_webhooks(db, box, who.tenant_id, connection_id, http, public_url)
    )

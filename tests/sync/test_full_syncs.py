"""Many full syncs started at once (``start_full_syncs``: an operator's or the nightly schedule's
thousands) do for each connection what ``start_full_sync`` does for one, in a few statements."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import event, func, select

from innsync.connections.models import Connection
from innsync.connections.schemas import (
    ConnectionCreate,
    MappingsWrite,
    RatePlanMappingIn,
    RoomTypeMappingIn,
)
from innsync.connections.service import set_mappings, start_full_syncs
from innsync.crypto import SecretBox
from innsync.db.engine import transaction
from innsync.outbox.models import AVAILABILITY, RATES, DirtyMark
from innsync.properties.models import Property
from innsync.properties.service import horizon
from innsync.sync.models import AckedAvailability, AckedRate
from innsync.sync.schedule import start_due_full_syncs
from tests.conftest import Db
from tests.sync.engine_fixtures import HotelRows, create_hotel_rows

NOW = datetime(2026, 3, 10, 3, 30, tzinfo=UTC)  # inside Lisbon's off-peak window (02:00-05:00)
STAY = date(2026, 4, 1)


def _hotel(db: Db, box: SecretBox, *, map_all: bool = True) -> HotelRows:
    """A fake-channel hotel mapped (all, or the first room type and its plans only), with an
    acknowledged day for every room type and plan, and no marks."""
    rows = create_hotel_rows(db.sessions, box, ConnectionCreate(channel="fake", name="Fake"))
    rooms = rows.room_type_ids if map_all else rows.room_type_ids[:1]
    plans = rows.rate_plan_ids if map_all else rows.rate_plan_ids[:2]
    with transaction(db.sessions) as session:
        set_mappings(
            session,
            rows.tenant_id,
            rows.connection_id,
            MappingsWrite(
                room_types=[
                    RoomTypeMappingIn(room_type_id=room, channel_code=f"R{n}")
                    for n, room in enumerate(rooms)
                ],
                rate_plans=[
                    RatePlanMappingIn(rate_plan_id=plan, channel_code=f"P{n}")
                    for n, plan in enumerate(plans)
                ],
            ),
        )
        session.query(DirtyMark).filter(DirtyMark.connection_id == rows.connection_id).delete()
        for room in rows.room_type_ids:
            session.add(
                AckedAvailability(
                    connection_id=rows.connection_id,
                    room_type_id=room,
                    stay_date=STAY,
                    availability=3,
                )
            )
        for plan in rows.rate_plan_ids:
            session.add(
                AckedRate(
                    connection_id=rows.connection_id,
                    rate_plan_id=plan,
                    stay_date=STAY,
                    rate_values={"rate": "100.00"},
                )
            )
    return rows


def _marks(session: Any, connection_id: uuid.UUID) -> set[tuple[str, uuid.UUID, date, date]]:
    return {
        (mark.kind, mark.subject_id, mark.start, mark.end)
        for mark in session.scalars(
            select(DirtyMark).where(DirtyMark.connection_id == connection_id)
        )
    }


def _acked(session: Any, connection_id: uuid.UUID) -> tuple[set[uuid.UUID], set[uuid.UUID]]:
    rooms = session.scalars(
        select(AckedAvailability.room_type_id).where(
            AckedAvailability.connection_id == connection_id
        )
    )
    plans = session.scalars(
        select(AckedRate.rate_plan_id).where(AckedRate.connection_id == connection_id)
    )
    return set(rooms), set(plans)


def test_each_connection_gets_what_a_full_sync_of_its_own_gives(
    db: Db, secret_box: SecretBox
) -> None:
    whole, partial, untouched = (
        _hotel(db, secret_box),
        _hotel(db, secret_box, map_all=False),
        _hotel(db, secret_box),
    )
    with transaction(db.sessions) as session:
        chosen = [session.get_one(Connection, rows.connection_id) for rows in (whole, partial)]
        started = start_full_syncs(session, chosen, NOW)

    with db.sessions() as session:
        dates = horizon(session.get_one(Property, whole.property_id), NOW)
        assert started == {whole.connection_id: (6, dates), partial.connection_id: (3, dates)}
        for rows, rooms, plans in (
            (whole, whole.room_type_ids, whole.rate_plan_ids),
            (partial, partial.room_type_ids[:1], partial.rate_plan_ids[:2]),
        ):
            assert _marks(session, rows.connection_id) == {
                *((AVAILABILITY, room, dates.start, dates.end) for room in rooms),
                *((RATES, plan, dates.start, dates.end) for plan in plans),
            }
            # What the channel acknowledged is forgotten: all of it is sent again.
            assert _acked(session, rows.connection_id) == (set(), set())
            connection = session.get_one(Connection, rows.connection_id)
            assert connection.last_full_sync_at == NOW
        assert _marks(session, untouched.connection_id) == set()
        assert _acked(session, untouched.connection_id) == (
            set(untouched.room_type_ids),
            set(untouched.rate_plan_ids),
        )


def test_many_connections_take_a_few_statements_not_a_few_each(
    db: Db, secret_box: SecretBox
) -> None:
    hotels = [_hotel(db, secret_box) for _ in range(4)]
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    with transaction(db.sessions) as session:
        chosen = [session.get_one(Connection, rows.connection_id) for rows in hotels]
        event.listen(db.connection, "before_cursor_execute", count)
        try:
            start_full_syncs(session, chosen, NOW)
        finally:
            event.remove(db.connection, "before_cursor_execute", count)

    # Properties, two mappings, two forgets, iCal exports, marks, last_full_sync_at: 8 in all
    # (the last one an executemany), however many connections.
    assert len(statements) == 8
    with db.sessions() as session:
        marks = session.scalar(select(func.count()).select_from(DirtyMark))
    assert marks == 4 * 6


def test_the_schedule_starts_every_connection_due_together(db: Db, secret_box: SecretBox) -> None:
    due, synced_today = _hotel(db, secret_box), _hotel(db, secret_box)
    with transaction(db.sessions) as session:
        recent = session.get_one(Connection, synced_today.connection_id)
        recent.last_full_sync_at = NOW - timedelta(hours=2)

    # The slot of each connection falls somewhere in the window: by its end, every one is due.
    late_in_window = NOW.replace(hour=4, minute=59)
    with transaction(db.sessions) as session:
        assert start_due_full_syncs(session, late_in_window) == 1

    with db.sessions() as session:
        assert len(_marks(session, due.connection_id)) == 6
        assert _marks(session, synced_today.connection_id) == set()


def test_the_schedule_reads_only_connections_not_synced_within_a_day(
    db: Db, secret_box: SecretBox
) -> None:
    late_in_window = NOW.replace(hour=4, minute=59)
    a_day, nearly = _hotel(db, secret_box), _hotel(db, secret_box)
    with transaction(db.sessions) as session:
        session.get_one(Connection, a_day.connection_id).last_full_sync_at = (
            late_in_window - timedelta(hours=24)
        )
        session.get_one(Connection, nearly.connection_id).last_full_sync_at = (
            late_in_window - timedelta(hours=24) + timedelta(seconds=1)
        )
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    with transaction(db.sessions) as session:
        event.listen(db.connection, "before_cursor_execute", count)
        try:
            # Exactly a day since the last one: due (the boundary the SQL and is_due share).
            assert start_due_full_syncs(session, late_in_window) == 1
            statements.clear()
            # Nothing due any more: one query of a few columns, no connection loaded whole.
            assert start_due_full_syncs(session, late_in_window) == 0
        finally:
            event.remove(db.connection, "before_cursor_execute", count)

    assert len(statements) == 1
    assert "config_encrypted" not in statements[0]
    with db.sessions() as session:
        assert len(_marks(session, a_day.connection_id)) == 6
        assert _marks(session, nearly.connection_id) == set()

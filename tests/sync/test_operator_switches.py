"""Connection switches (pause pushes, pause pulls, shadow mode), their audit, and dead-letter
filters (issue #20, items 4 and 5), on the real worker and the fake channel."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from innsync.channels.fake import FakeChannel
from innsync.connections.models import Connection, ConnectionAudit
from innsync.connections.schemas import ConnectionUpdate
from innsync.connections.service import connection_read, replay_dead_letters, update_connection
from innsync.crypto import SecretBox
from innsync.db.engine import transaction
from innsync.inbox import reconciler
from innsync.inbox.models import PullCursor
from innsync.outbox.models import DirtyMark
from innsync.sync.dead_letters import DeadLetterFilter
from innsync.sync.models import DeadLetter, SyncLogEntry
from tests.conftest import Db
from tests.sync.engine_fixtures import Clock, SyncedHotel, build_hotel


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def switch(hotel: SyncedHotel, box: SecretBox, actor: str = "key:ops", **changes: Any) -> None:
    with transaction(hotel.sessions) as session:
        update_connection(
            session, box, hotel.tenant_id, hotel.connection_id, ConnectionUpdate(**changes), actor
        )


def price_on_channel(hotel: SyncedHotel, offset: int) -> Decimal | None:
    stay_date = date.fromisoformat(hotel.day(offset))
    for (_, plan_code), days in hotel.channel.rates_state().items():
        if plan_code == "P1" and stay_date in days:
            return days[stay_date].price
    return None


def test_shadow_mode_logs_what_would_be_sent_sends_nothing_and_acknowledges_nothing(
    db: Db, secret_box: SecretBox
) -> None:
    hotel = build_hotel(db.sessions, secret_box, Clock())
    run(hotel.drain())
    sent_before = len(hotel.channel.requests)
    old_price = price_on_channel(hotel, 40)

    switch(hotel, secret_box, shadow_mode=True)
    hotel.ari(
        {
            "rate_plan_id": str(hotel.rate_plan_ids[1]),
            "date_from": hotel.day(40),
            "date_to": hotel.day(40),
            "price": "777.00",
        }
    )
    assert run(hotel.drain()) == 0  # no request reached the channel
    assert len(hotel.channel.requests) == sent_before
    assert price_on_channel(hotel, 40) == old_price
    assert hotel.pending() == 0  # each change is logged once
    with db.sessions() as session:
        shadow = list(session.scalars(select(SyncLogEntry).where(SyncLogEntry.outcome == "shadow")))
    assert [(row.kind, row.entries, row.first_date) for row in shadow] == [
        ("rates", 1, date.fromisoformat(hotel.day(40)))
    ]
    assert "not sent (shadow mode)" in shadow[0].detail
    assert '"price": "777.00"' in shadow[0].detail
    assert '"rate_plan": "P1"' in shadow[0].detail

    # Off again: what the channel holds is unknown, so everything is planned again and sent.
    switch(hotel, secret_box, shadow_mode=False)
    assert hotel.pending() > 0
    run(hotel.drain())
    assert price_on_channel(hotel, 40) == Decimal("777.00")
    assert len(hotel.channel.requests) > sent_before


def test_every_switch_change_is_audited_and_shown_in_the_connection_read(
    db: Db, secret_box: SecretBox
) -> None:
    hotel = build_hotel(db.sessions, secret_box, Clock())
    switch(hotel, secret_box, shadow_mode=True)
    switch(hotel, secret_box, actor="cli", push_enabled=False, pull_enabled=False)
    switch(hotel, secret_box, push_enabled=False)  # no change: nothing audited
    switch(hotel, secret_box, actor="cli", state="disabled")
    with db.sessions() as session:
        rows = list(session.scalars(select(ConnectionAudit).order_by(ConnectionAudit.id)))
        read = connection_read(
            session, secret_box, session.get_one(Connection, hotel.connection_id)
        )
    assert [(row.actor, row.action, row.detail) for row in rows] == [
        ("key:ops", "switch_changed", {"field": "shadow_mode", "old": False, "new": True}),
        ("cli", "switch_changed", {"field": "push_enabled", "old": True, "new": False}),
        ("cli", "switch_changed", {"field": "pull_enabled", "old": True, "new": False}),
        ("cli", "switch_changed", {"field": "state", "old": "pending", "new": "disabled"}),
    ]
    assert (read.shadow_mode, read.push_enabled, read.pull_enabled) == (True, False, False)
    assert [(h.field, h.old, h.new, h.actor) for h in read.switch_history] == [
        ("state", "pending", "disabled", "cli"),
        ("pull_enabled", True, False, "cli"),
        ("push_enabled", True, False, "cli"),
        ("shadow_mode", False, True, "key:ops"),
    ]


def test_paused_pushes_send_nothing_and_paused_pulls_read_nothing(
    db: Db, secret_box: SecretBox
) -> None:
    hotel = build_hotel(db.sessions, secret_box, Clock())
    run(hotel.drain())
    sent = len(hotel.channel.requests)
    switch(hotel, secret_box, push_enabled=False, pull_enabled=False)
    hotel.ari(
        {
            "rate_plan_id": str(hotel.rate_plan_ids[1]),
            "date_from": hotel.day(5),
            "date_to": hotel.day(5),
            "price": "555.00",
        }
    )
    assert run(hotel.worker.run_once()) == 0
    assert len(hotel.channel.requests) == sent
    pulls = run(reconciler.pull_due(db.sessions, lambda _c: hotel.channel, clock=hotel.clock))
    assert pulls == 0
    with db.sessions() as session:
        assert session.get(PullCursor, hotel.connection_id) is None

    switch(hotel, secret_box, push_enabled=True)  # back: a full sync sends the change
    run(hotel.drain())
    assert price_on_channel(hotel, 5) == Decimal("555.00")


def test_dead_letters_are_listed_and_replayed_by_filter(db: Db, secret_box: SecretBox) -> None:
    hotel = build_hotel(db.sessions, secret_box, Clock())
    channel: FakeChannel = hotel.channel
    channel.reject_entries(
        lambda update: (
            "closed by the channel"
            if getattr(update, "rate_plan_code", "") == "P3"
            else "Room TYPE sold out"
            if getattr(update, "room_type_code", None) == "R1"
            and not hasattr(update, "rate_plan_code")
            else None
        )
    )
    run(hotel.drain())
    channel.clear_faults()
    with db.sessions() as session:
        letters = list(session.scalars(select(DeadLetter).order_by(DeadLetter.id)))
    kinds = {letter.kind for letter in letters}
    assert kinds == {"availability", "rates"}
    rates = [letter.id for letter in letters if letter.kind == "rates"]

    from innsync.sync.dead_letters import matching

    with db.sessions() as session:
        chosen = list(
            session.scalars(
                matching(hotel.connection_id, DeadLetterFilter(error_text="room type SOLD"))
            )
        )
        assert {letter.kind for letter in chosen} == {"availability"}
        assert (
            list(
                session.scalars(matching(hotel.connection_id, DeadLetterFilter(error_text="50%_")))
            )
            == []
        )
        late = hotel.clock() + timedelta(days=1)
        assert (
            list(
                session.scalars(matching(hotel.connection_id, DeadLetterFilter(created_since=late)))
            )
            == []
        )
        first_start = min(letter.start for letter in letters)
        assert (
            list(
                session.scalars(
                    matching(
                        hotel.connection_id,
                        DeadLetterFilter(date_to=first_start),  # stays before the first date
                    )
                )
            )
            == []
        )

    with transaction(db.sessions) as session:
        session.execute(DirtyMark.__table__.delete())
        replayed = replay_dead_letters(
            session, hotel.tenant_id, hotel.connection_id, DeadLetterFilter(kind="rates")
        )
    assert replayed == len(rates)
    with db.sessions() as session:
        marks = list(session.scalars(select(DirtyMark.kind)))
        done = set(
            session.scalars(select(DeadLetter.id).where(DeadLetter.replayed_at.is_not(None)))
        )
    assert set(marks) == {"rates"}
    assert len(marks) == len(rates)
    assert done == set(rates)
    with transaction(db.sessions) as session:  # replayed letters are never replayed twice
        assert (
            replay_dead_letters(
                session, hotel.tenant_id, hotel.connection_id, DeadLetterFilter(kind="rates")
            )
            == 0
        )

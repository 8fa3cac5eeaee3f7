"""Rejected webhook calls are budgeted per URL and per client address, kept truncated, and
finished inbox items are deleted after the retention period (issue #19, item 7)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from innsync.crypto import SecretBox
from innsync.db.engine import session_factory
from innsync.inbox.models import InboxItem
from innsync.inbox.retention import prune_inbox
from innsync.loops import BackgroundLoops
from innsync.settings import Settings
from tests.conftest import Db
from tests.inbound.builders import Hotel, booking, encode, headers, hooks_app, make_hotel

ATTACKER, CHANNEL, OTHER = ("203.0.113.7", 4000), ("198.51.100.2", 4000), ("192.0.2.9", 4000)


@pytest.fixture
def hotel(db: Db, secret_box: SecretBox) -> Hotel:
    with db.sessions() as session:
        made = make_hotel(session, secret_box, connections=2)
        session.commit()
    return made


@pytest.fixture
def limited(db: Db, secret_box: SecretBox) -> Iterator[dict[tuple[str, int], TestClient]]:
    """One app, seen from three client addresses; three rejected calls per budget."""
    settings = Settings(
        database_url="sqlite://",
        background_loops=False,
        webhook_rejected_limit=3,
        webhook_rejected_body_bytes=100,
    )
    app = hooks_app(db.sessions, db.engine, secret_box, settings)
    clients = {address: TestClient(app, client=address) for address in (ATTACKER, CHANNEL, OTHER)}
    yield clients
    for client in clients.values():
        client.close()


def count(db: Db) -> int:
    with db.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(InboxItem)) or 0)


def test_rejected_calls_past_the_budget_get_429_and_store_nothing(
    limited: dict[tuple[str, int], TestClient],
    hotel: Hotel,
    db: Db,
    caplog: pytest.LogCaptureFixture,
) -> None:
    first, second = (f"/hooks/{token}" for token in hotel.tokens)
    attacker = limited[ATTACKER]
    body = b"x" * 5000
    caplog.set_level(logging.WARNING)
    for _ in range(3):
        assert attacker.post(first, content=body, headers=headers("wrong")).status_code == 401
    assert count(db) == 3
    with db.sessions() as session:
        kept = list(session.scalars(select(InboxItem.body)))
    assert kept == [body[:100]] * 3  # INNSYNC_WEBHOOK_REJECTED_BODY_BYTES

    refused = attacker.post(first, content=body, headers=headers("wrong"))
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert count(db) == 3  # nothing stored past the budget

    # The same URL from another address: the URL's budget is spent too.
    assert limited[OTHER].post(first, content=body, headers=headers("wrong")).status_code == 429
    # Another URL from the attacker's address: the address's budget is spent.
    genuine = encode(booking("B1"))
    assert attacker.post(second, content=genuine, headers=headers()).status_code == 429
    # Another URL from another address is untouched by either budget.
    answer = limited[CHANNEL].post(second, content=genuine, headers=headers())
    assert (answer.status_code, answer.json()) == (200, {"status": "stored"})
    assert count(db) == 4

    lines = [r for r in caplog.records if r.getMessage() == "webhook call refused"]
    assert len(lines) == 3  # one line per rejected call, none for the 429s
    assert all(r.exc_info is None for r in caplog.records)
    assert not any(token in r.getMessage() for r in caplog.records for token in hotel.tokens)


def test_unknown_urls_count_against_the_address(
    limited: dict[tuple[str, int], TestClient], hotel: Hotel, db: Db
) -> None:
    prober = limited[OTHER]
    for index in range(3):
        assert prober.post(f"/hooks/guess-{index}", content=b"{}").status_code == 404
    assert prober.post("/hooks/guess-9", content=b"{}").status_code == 429
    assert prober.post(f"/hooks/{hotel.tokens[0]}", content=b"{}").status_code == 429
    assert count(db) == 0
    stored = limited[CHANNEL].post(
        f"/hooks/{hotel.tokens[0]}", content=encode(booking("B1")), headers=headers()
    )
    assert stored.status_code == 200


def _item(hotel: Hotel, index: int, status: str, processed: datetime | None) -> InboxItem:
    return InboxItem(
        connection_id=hotel.connections[0],
        tenant_id=hotel.tenant_id,
        received_at=processed or datetime(2026, 1, 1, tzinfo=UTC),
        source="webhook",
        dedupe_key=f"k{index}",
        headers={},
        body=b"{}",
        status=status,
        processed_at=processed,
    )


def test_retention_deletes_only_old_finished_items_in_batches(hotel: Hotel, db: Db) -> None:
    cutoff = datetime(2026, 6, 1, tzinfo=UTC)
    old, recent = cutoff - timedelta(days=1), cutoff + timedelta(seconds=1)
    kept_due = _item(hotel, 90, "applied", old)
    kept_due.ack_status = "due"  # the channel still waits for its acknowledgement
    with db.sessions() as session:
        session.add_all(
            [
                *(_item(hotel, i, "applied", old) for i in range(3)),
                _item(hotel, 10, "ignored", old),
                _item(hotel, 11, "rejected", old),
                _item(hotel, 20, "applied", recent),
                _item(hotel, 21, "rejected", recent),
                _item(hotel, 30, "pending", None),
                _item(hotel, 31, "parked", old),
                kept_due,
            ]
        )
        session.commit()

    with db.sessions() as session:
        assert prune_inbox(session, cutoff, batch=3) == 3
        assert prune_inbox(session, cutoff, batch=3) == 2
        assert prune_inbox(session, cutoff, batch=3) == 0
        session.commit()
    with db.sessions() as session:
        left = sorted(session.scalars(select(InboxItem.dedupe_key)))
    assert left == ["k20", "k21", "k30", "k31", "k90"]


def test_the_background_loops_apply_the_retention(committed: Engine, secret_box: SecretBox) -> None:
    sessions = session_factory(committed)
    now = datetime.now(UTC)
    with sessions() as session:
        hotel = make_hotel(session, secret_box)
        session.add_all(
            [
                _item(hotel, 1, "applied", now - timedelta(days=3)),
                _item(hotel, 2, "rejected", now - timedelta(days=3)),
                _item(hotel, 3, "applied", now - timedelta(hours=1)),
            ]
        )
        session.commit()
    settings = Settings(
        database_url="sqlite://", inbox_retention_days=2, loop_interval_seconds=0.05
    )
    loops = BackgroundLoops(sessions, secret_box, settings)
    loops.start(sync_worker=False)
    try:
        for _ in range(200):  # the first pass runs at once; allow a slow machine 10 s
            with sessions() as session:
                left = list(session.scalars(select(InboxItem.dedupe_key)))
            if len(left) == 1:
                break
            time.sleep(0.05)
    finally:
        loops.stop()
    assert left == ["k3"]

"""Fast webhook ingress: concurrent items share a commit, each answered only after it; cached
receivers follow their connection's changes at once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, event, select

from innsync.connections.models import Connection
from innsync.crypto import SecretBox
from innsync.db.engine import session_factory
from innsync.inbox.ingress import GroupCommit, PendingItem, ReceiverCache, Written, writers_for
from innsync.inbox.models import InboxItem
from innsync.inbox.service import dedupe_key, insert_once, webhook_values
from innsync.settings import Settings
from tests.conftest import Db
from tests.inbound.builders import Hotel, booking, encode, headers, hooks_app, make_hotel


@pytest.fixture
def hotel(db: Db, secret_box: SecretBox) -> Hotel:
    with db.sessions() as session:
        made = make_hotel(session, secret_box)
        session.commit()
    return made


@pytest.fixture
def commits(db: Db) -> Iterator[list[str]]:
    """Every commit on the test's database (a session's commit is a savepoint release here)."""
    seen: list[str] = []

    def count(*_: Any) -> None:
        seen.append("commit")

    for name in ("commit", "release_savepoint"):
        event.listen(db.engine, name, count)
    yield seen
    for name in ("commit", "release_savepoint"):
        event.remove(db.engine, name, count)


def _item(db: Db, hotel: Hotel, body: bytes, **changed: Any) -> PendingItem:
    with db.sessions() as session:
        connection = session.get_one(Connection, hotel.connections[0])
        version = connection.updated_at
    _, values = webhook_values(hotel.connections[0], hotel.tenant_id, _Accepts(), headers(), body)
    return PendingItem(hotel.connections[0], version, values | changed)


class _Accepts:
    def verify_webhook(self, headers: Any, body: bytes) -> None:
        del headers, body

    async def parse_webhook(self, headers: Any, body: bytes) -> list[Any]:
        raise AssertionError("not parsed at ingress")


def _store_all(writer: GroupCommit, items: list[PendingItem]) -> list[Written | str]:
    async def go() -> list[Written | str]:
        results = await asyncio.gather(
            *(writer.store(item) for item in items), return_exceptions=True
        )
        return [r if isinstance(r, str) else type(r).__name__ for r in results]

    return asyncio.run(go())


def _keys(db: Db) -> list[str]:
    with db.sessions() as session:
        return sorted(session.scalars(select(InboxItem.dedupe_key)))


def test_concurrent_items_share_one_commit_and_a_duplicate_is_answered_as_one(
    db: Db, hotel: Hotel, commits: list[str]
) -> None:
    bodies = [encode(booking(f"B{n}")) for n in range(6)]
    items = [_item(db, hotel, body) for body in bodies] + [_item(db, hotel, bodies[0])]
    commits.clear()

    outcomes = _store_all(GroupCommit(db.sessions), items)

    assert outcomes == ["stored"] * 6 + ["duplicate"]
    assert len(commits) == 1
    assert _keys(db) == sorted(dedupe_key(body) for body in bodies)


def test_a_batch_tells_rows_already_stored_from_new_ones(db: Db, hotel: Hotel) -> None:
    """The batch is one multi-row insert: which of its rows went in comes from what it
    returned, by (connection, dedupe key), not from the order of its rows."""
    bodies = [encode(booking(f"B{n}")) for n in range(4)]
    writer = GroupCommit(db.sessions)
    assert _store_all(writer, [_item(db, hotel, bodies[1]), _item(db, hotel, bodies[3])]) == [
        "stored",
        "stored",
    ]

    again = [_item(db, hotel, body) for body in (bodies[3], bodies[0], bodies[1], bodies[2])]
    outcomes = _store_all(writer, [*again, _item(db, hotel, bodies[2])])

    assert outcomes == ["duplicate", "stored", "duplicate", "stored", "duplicate"]
    assert _keys(db) == sorted(dedupe_key(body) for body in bodies)


def test_a_batched_row_comes_out_as_a_row_stored_alone(db: Db, hotel: Hotel) -> None:
    """Each database stores a batch its own way (PostgreSQL: one array per column, unnested);
    every column of a batched row reads back as a single insert stores it, defaults included."""
    alone, *batched = (_item(db, hotel, encode(booking(f"B{n}"))) for n in range(3))
    with db.sessions() as session:
        assert insert_once(session, alone.values) is not None
        session.commit()

    assert _store_all(GroupCommit(db.sessions), batched) == ["stored", "stored"]

    own = {"id", "dedupe_key", "body", "received_at"}
    shared = [column.key for column in InboxItem.__table__.columns if column.key not in own]
    with db.sessions() as session:
        stored = {row.dedupe_key: row for row in session.scalars(select(InboxItem))}
        rows = [stored[item.values["dedupe_key"]] for item in (alone, *batched)]
        assert len(stored) == 3
        for row, item in zip(rows, [alone, *batched], strict=True):
            assert (row.body, row.received_at) == (item.values["body"], item.values["received_at"])
        assert rows[0].ack_revision_ids == []
        assert rows[0].headers
        first = {key: getattr(rows[0], key) for key in shared}
        assert [{key: getattr(row, key) for key in shared} for row in rows[1:]] == [first] * 2


def test_batches_are_bounded_and_each_is_committed_before_its_answers(
    db: Db, hotel: Hotel, commits: list[str]
) -> None:
    items = [_item(db, hotel, encode(booking(f"B{n}"))) for n in range(5)]
    commits.clear()

    outcomes = _store_all(GroupCommit(db.sessions, max_items=2), items)

    assert outcomes == ["stored"] * 5
    assert len(commits) == 3  # 2 + 2 + 1
    assert len(_keys(db)) == 5


def test_a_failing_item_fails_alone(db: Db, hotel: Hotel, commits: list[str]) -> None:
    good = [_item(db, hotel, encode(booking(f"B{n}"))) for n in range(3)]
    broken = _item(db, hotel, encode(booking("BAD")), tenant_id=None)  # NOT NULL
    commits.clear()

    outcomes = _store_all(GroupCommit(db.sessions), [good[0], broken, good[1], good[2]])

    assert outcomes == ["stored", "IntegrityError", "stored", "stored"]
    assert _keys(db) == sorted(item.values["dedupe_key"] for item in good)
    assert len(commits) == 3  # the batch rolled back, then one commit per good item


def test_an_item_of_a_changed_or_disabled_connection_is_stale_and_not_stored(
    db: Db, hotel: Hotel
) -> None:
    outdated = _item(db, hotel, encode(booking("B1")))
    with db.sessions() as session:
        session.get_one(Connection, hotel.connections[0]).name = "Renamed"
        session.commit()
    current = _item(db, hotel, encode(booking("B2")))
    with db.sessions() as session:
        session.get_one(Connection, hotel.connections[0]).state = "disabled"
        session.commit()
    after_disable = _item(db, hotel, encode(booking("B3")))

    outcomes = _store_all(GroupCommit(db.sessions), [outdated, current, after_disable])

    assert outcomes == ["stale", "stale", "stale"]
    assert _keys(db) == []


def test_a_cached_receiver_expires_after_its_ttl(
    db: Db, hotel: Hotel, secret_box: SecretBox
) -> None:
    now = [100.0]
    built: list[uuid.UUID] = []

    def build(connection: Connection) -> object:
        built.append(connection.id)
        return _Accepts()

    cache = ReceiverCache(build, ttl_seconds=5.0, clock=lambda: now[0])
    with db.sessions() as session:
        loaded = cache.load(session, hotel.tokens[0])
        assert cache.load(session, "no-such-token") is None
    assert loaded is not None
    assert cache.cached(hotel.tokens[0]) is loaded
    now[0] += 4.9
    assert cache.cached(hotel.tokens[0]) is loaded
    now[0] += 0.1
    assert cache.cached(hotel.tokens[0]) is None
    assert built == [hotel.connections[0]]


@pytest.fixture
def hooks(db: Db, secret_box: SecretBox, settings: Settings) -> Iterator[TestClient]:
    with TestClient(hooks_app(db.sessions, db.engine, secret_box, settings)) as client:
        yield client


def test_disabling_a_connection_refuses_its_webhooks_at_once_though_cached(
    hooks: TestClient, hotel: Hotel, db: Db
) -> None:
    url = f"/hooks/{hotel.tokens[0]}"
    assert hooks.post(url, content=encode(booking("B1")), headers=headers()).status_code == 200
    with db.sessions() as session:
        session.get_one(Connection, hotel.connections[0]).state = "disabled"
        session.commit()

    refused = hooks.post(url, content=encode(booking("B2")), headers=headers())

    assert refused.status_code == 404
    assert len(_keys(db)) == 1


def test_a_changed_secret_applies_at_once_though_cached(
    hooks: TestClient, hotel: Hotel, db: Db, secret_box: SecretBox
) -> None:
    url = f"/hooks/{hotel.tokens[0]}"
    assert hooks.post(url, content=encode(booking("B1")), headers=headers()).status_code == 200
    with db.sessions() as session:
        connection = session.get_one(Connection, hotel.connections[0])
        connection.config_encrypted = secret_box.encrypt('{"webhook_secret": "rotated"}')
        session.commit()

    old = hooks.post(url, content=encode(booking("B2")), headers=headers())
    new = hooks.post(url, content=encode(booking("B3")), headers=headers("rotated"))

    assert (old.status_code, new.status_code) == (401, 200)
    with db.sessions() as session:
        statuses = sorted(session.scalars(select(InboxItem.status)))
    assert statuses == ["pending", "pending", "rejected"]


def test_the_cache_keeps_at_most_its_bound_evicting_the_oldest(
    db: Db, secret_box: SecretBox
) -> None:
    with db.sessions() as session:
        hotel = make_hotel(session, secret_box, connections=3)
        session.commit()
    cache = ReceiverCache(lambda _connection: _Accepts(), max_entries=2)
    with db.sessions() as session:
        for token in hotel.tokens:
            assert cache.load(session, token) is not None
    assert [cache.cached(token) is not None for token in hotel.tokens] == [False, True, True]


def test_calls_finding_an_expired_receiver_together_share_one_read(db: Db, hotel: Hotel) -> None:
    """A busy URL's entry expires under dozens of calls at once: one read serves them all, a
    caller that goes away does not cancel it, and the next expiry reads again."""
    reads: list[str] = []
    cache = ReceiverCache(lambda _connection: _Accepts())

    async def read() -> Any:
        reads.append("read")
        await asyncio.sleep(0.05)  # the others arrive while it runs
        with db.sessions() as session:
            return cache.load(session, hotel.tokens[0])

    async def go() -> list[Any]:
        impatient = asyncio.create_task(cache.read_once(hotel.tokens[0], read))
        waiting = [asyncio.create_task(cache.read_once(hotel.tokens[0], read)) for _ in range(9)]
        await asyncio.sleep(0)
        impatient.cancel()
        together = await asyncio.gather(*waiting)
        later = await cache.read_once(hotel.tokens[0], read)
        return [*together, later]

    receivers = asyncio.run(go())

    assert len(reads) == 2  # the nine (and the one that left) together, then the later call
    assert all(receiver is not None for receiver in receivers)
    assert len({id(receiver) for receiver in receivers[:9]}) == 1
    assert receivers[9].connection_id == hotel.connections[0]


def test_a_server_keeps_two_group_commits_in_flight_where_commits_run_in_parallel() -> None:
    """Two per server off SQLite: both in a process alone, one in each of several processes
    (more would only split the batches finer); SQLite's one write lock takes one per process."""
    postgresql = session_factory(create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none"))
    sqlite = session_factory(create_engine("sqlite://"))

    assert [writers_for(postgresql, processes) for processes in (1, 2, 4)] == [2, 1, 1]
    assert [writers_for(sqlite, processes) for processes in (1, 2)] == [1, 1]

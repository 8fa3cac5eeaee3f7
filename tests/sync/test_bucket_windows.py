"""A pass reads the buckets with work a window at a time, round-robin from where the last one
stopped: it claims every bucket in turn, is not stopped by buckets it cannot take, finds the
earliest reopening when nothing is claimable, and reads as much at 40 buckets as at 160.

Each test runs with the marked connections listed first (few of them, the default) and with the
walk of the bucket-key index (``few_marked_connections=0``, as when marks are many)."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from innsync.channels.fake import FakeChannel
from innsync.connections.models import Connection
from innsync.db.engine import transaction
from innsync.outbox.models import AVAILABILITY, RATES, DirtyMark
from innsync.properties import service as properties
from innsync.properties.schemas import PropertyCreate
from innsync.sync import budgets, leases
from innsync.sync.models import BucketLease
from innsync.sync.worker import (
    BUCKETS_PER_PASS,
    FEW_MARKED_CONNECTIONS,
    WINDOW_PER_CLAIM,
    SyncWorker,
)
from innsync.tenants.service import create_tenant
from tests.conftest import Db
from tests.sync.engine_fixtures import Clock

MORNING = datetime(2027, 1, 11, 8, 0, tzinfo=UTC)
WINDOW = WINDOW_PER_CLAIM * BUCKETS_PER_PASS


@pytest.fixture(params=[FEW_MARKED_CONNECTIONS, 0], ids=["listed", "walked"])
def few_marked(request: pytest.FixtureRequest) -> int:
    return int(request.param)


class Buckets:
    """Connections of one bucket each, with marks of both kinds, on one property."""

    def __init__(self, db: Db) -> None:
        self.db = db
        self.clock = Clock(MORNING)
        with transaction(db.sessions) as session:
            tenant, _ = create_tenant(session, "Windows")
            prop = properties.create_property(
                session, tenant.id, PropertyCreate(name="Harbour", timezone="UTC", currency="EUR")
            )
            self.tenant_id, self.property_id = tenant.id, prop.id
        self.keys: list[str] = []
        self.connection_ids: dict[str, uuid.UUID] = {}

    def add(self, count: int, prefix: str = "a") -> list[str]:
        """``count`` buckets with work, keys in order; each has its lease row already."""
        added = [f"fake:{prefix}{len(self.keys) + n:03d}" for n in range(count)]
        with transaction(self.db.sessions) as session:
            for key in added:
                self.connection_ids[key] = self._connection(session, key)
                self.mark(key, session)
            leases.ensure_lease_rows(session, added)
        self.keys += added
        return added

    def _connection(self, session: Session, key: str) -> uuid.UUID:
        connection = Connection(
            tenant_id=self.tenant_id,
            property_id=self.property_id,
            channel="fake",
            name=key,
            config_encrypted="-",
            state="connected",
            state_reason="",
            webhook_token=secrets.token_urlsafe(32),
            bucket_key=key,
            consecutive_failures=0,
        )
        session.add(connection)
        session.flush()
        return connection.id

    def mark(self, key: str, session: Session | None = None) -> None:
        if session is None:
            with transaction(self.db.sessions) as opened:
                self.mark(key, opened)
            return
        for kind in (AVAILABILITY, RATES):
            session.add(
                DirtyMark(
                    connection_id=self.connection_ids[key],
                    kind=kind,
                    subject_id=uuid.uuid4(),
                    start=date(2027, 1, 20),
                    end=date(2027, 1, 21),
                )
            )
        session.flush()

    def clear_marks(self, key: str) -> None:
        with transaction(self.db.sessions) as session:
            for mark in session.scalars(
                select(DirtyMark).where(DirtyMark.connection_id == self.connection_ids[key])
            ):
                session.delete(mark)

    def block(self, key: str, until: datetime) -> None:
        """Both kinds' budgets spent until ``until``."""
        with transaction(self.db.sessions) as session:
            lease = session.get_one(BucketLease, key)
            state = dict(lease.limiter_state)
            budgets.set_blocked(state, (AVAILABILITY, RATES), until.timestamp())
            lease.limiter_state = state

    def hold(self, key: str, holder: str) -> None:
        """Another worker serves the bucket (its lease runs for another minute)."""
        with transaction(self.db.sessions) as session:
            lease = session.get_one(BucketLease, key)
            lease.holder, lease.expires_at = holder, self.clock() + timedelta(minutes=1)

    def lease(self, key: str) -> tuple[str | None, int]:
        with self.db.sessions() as session:
            lease = session.get_one(BucketLease, key)
            return lease.holder, lease.fence

    def worker(self, holder: str, few_marked: int) -> SyncWorker:
        return SyncWorker(
            self.db.sessions,
            lambda _connection: FakeChannel(),
            clock=self.clock,
            holder=holder,
            few_marked_connections=few_marked,
        )

    def claim(self, worker: SyncWorker, *, release: bool = True) -> list[str]:
        """One pass's claims; released at once unless told (as if served with work left)."""
        keys = [bucket.fence.bucket_key for bucket in worker.claim_buckets()]
        if release:
            with transaction(self.db.sessions) as session:
                for key in keys:
                    leases.release(session, worker.holder, key)
        return keys


@pytest.fixture
def buckets(db: Db) -> Buckets:
    return Buckets(db)


def test_successive_passes_claim_every_bucket_in_turn(buckets: Buckets, few_marked: int) -> None:
    keys = buckets.add(50)  # more than one window
    worker = buckets.worker("w1", few_marked)

    claims = [buckets.claim(worker) for _ in range(10)]

    # Each pass takes the next eight after the last one taken, wrapping round at the end: no
    # bucket waits more than one round, and none is taken twice while another waits.
    assert all(len(keys_of_pass) == BUCKETS_PER_PASS for keys_of_pass in claims)
    assert [key for keys_of_pass in claims for key in keys_of_pass] == [
        keys[n % 50] for n in range(80)
    ]


def test_two_workers_share_the_buckets_without_taking_one_twice(
    buckets: Buckets, few_marked: int
) -> None:
    keys = buckets.add(40)
    first, second = buckets.worker("w1", few_marked), buckets.worker("w2", few_marked)

    # Neither releases what it took: each pass skips what the other holds.
    taken = [buckets.claim(worker, release=False) for worker in (first, second) * 2 + (first,)]

    assert [len(keys_of_pass) for keys_of_pass in taken] == [8, 8, 8, 8, 8]
    assert sorted(key for keys_of_pass in taken for key in keys_of_pass) == keys
    assert buckets.lease(keys[0])[0] == "w1"
    assert buckets.lease(keys[8])[0] == "w2"


def test_held_and_blocked_buckets_in_the_first_window_do_not_stop_the_pass(
    buckets: Buckets, few_marked: int
) -> None:
    keys = buckets.add(60)
    reopens = buckets.clock() + timedelta(seconds=30)
    blocked, held = keys[:30:3], [key for key in keys[:30] if key not in keys[:30:3]]
    for key in blocked:
        buckets.block(key, reopens)
    for key in held:
        buckets.hold(key, "other")
    leases_before = {key: buckets.lease(key) for key in keys[:30]}
    worker = buckets.worker("w1", few_marked)

    claimed = buckets.claim(worker, release=False)

    assert claimed == keys[30:38]  # two from the first window, six from the next
    # Neither taken nor fenced: the others' leases and the blocked ones are as they were.
    assert {key: buckets.lease(key) for key in keys[:30]} == leases_before
    assert {buckets.lease(key)[0] for key in blocked} == {None}
    # The pass filled before it went round: the reopening it saw is the blocked buckets'.
    assert worker.next_reopening == reopens


def test_a_bucket_marked_behind_the_last_pass_is_found_by_the_next(
    buckets: Buckets, few_marked: int
) -> None:
    keys = buckets.add(40)
    worker = buckets.worker("w1", few_marked)
    assert buckets.claim(worker) == keys[:8]
    for key in keys:
        buckets.clear_marks(key)  # all served: nothing left to do
    assert buckets.claim(worker) == []

    buckets.mark(keys[3])  # behind where the passes stopped

    assert buckets.claim(worker) == [keys[3]]


def test_next_reopening_is_the_earliest_of_every_bucket_when_nothing_is_claimable(
    buckets: Buckets, few_marked: int
) -> None:
    keys = buckets.add(70)
    worker = buckets.worker("w1", few_marked)
    assert buckets.claim(worker) == keys[:8]  # the next pass starts in the middle
    now = buckets.clock()
    for index, key in enumerate(keys):
        buckets.block(key, now + timedelta(seconds=60 + index))
    earliest = now + timedelta(seconds=5)
    buckets.block(keys[3], earliest)  # behind the start: found only by going round
    with transaction(buckets.db.sessions) as session:  # backing off, later than the earliest
        session.get_one(BucketLease, keys[40]).limiter_state = {}
        session.get_one(BucketLease, keys[40]).not_before = now + timedelta(seconds=7)

    assert buckets.claim(worker) == []
    assert worker.next_reopening == earliest

    buckets.clock.advance(5)
    assert buckets.claim(worker) == [keys[3]]
    buckets.clear_marks(keys[3])  # served
    buckets.clock.advance(2)
    assert buckets.claim(worker) == [keys[40]]


class Statements:
    """The statements run on the test's connection, with their bound parameters."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, list[Any]]] = []

    def __call__(
        self,
        _connection: Any,
        _cursor: Any,
        statement: str,
        parameters: Any,
        _context: Any,
        executemany: bool,
    ) -> None:
        batches = parameters if executemany else [parameters]
        values: list[Any] = []
        for batch in batches:
            values += list(batch.values()) if isinstance(batch, dict) else list(batch or ())
        self.seen.append((statement, values))

    def keys_bound(self) -> list[int]:
        """How many bucket keys each statement was given."""
        return [
            sum(isinstance(value, str) and value.startswith("fake:") for value in values)
            for _, values in self.seen
        ]


@pytest.fixture
def statements(db: Db) -> Iterator[Statements]:
    recorder = Statements()
    event.listen(db.engine, "before_cursor_execute", recorder)
    try:
        yield recorder
    finally:
        event.remove(db.engine, "before_cursor_execute", recorder)


def one_pass(buckets: Buckets, statements: Statements, worker: SyncWorker) -> Statements:
    statements.seen.clear()
    assert len(buckets.claim(worker, release=False)) == BUCKETS_PER_PASS
    taken = Statements()
    taken.seen = list(statements.seen)
    with transaction(buckets.db.sessions) as session:
        for key in buckets.keys:
            leases.release(session, worker.holder, key)
    return taken


def test_a_pass_reads_one_window_however_many_buckets_have_work(
    buckets: Buckets, statements: Statements, few_marked: int
) -> None:
    buckets.add(40)
    small = one_pass(buckets, statements, buckets.worker("w1", few_marked))
    buckets.add(120, prefix="b")
    large = one_pass(buckets, statements, buckets.worker("w2", few_marked))

    assert len(large.seen) == len(small.seen)
    assert large.keys_bound() == small.keys_bound()
    assert max(large.keys_bound()) == WINDOW  # the window's keys, never all 160
    if not few_marked:  # walked: besides the keys, only a few values (holder, times, limit)
        assert max(len(values) for _, values in large.seen) <= WINDOW + 8

"""The one claim helper every background pass uses: due rows, SKIP LOCKED, a lease."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from innsync.db.claims import claim_due
from innsync.db.engine import session_factory, transaction
from innsync.sync.models import BucketLease

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)


def keys(rows: list[BucketLease]) -> list[str]:
    return [row.bucket_key for row in rows]


@pytest.mark.backends("postgresql", "mariadb")
def test_two_claimers_take_disjoint_due_rows_without_waiting(committed: Engine) -> None:
    sessions = session_factory(committed)
    with transaction(sessions) as session:
        for key in ("a", "b", "c", "d"):
            session.add(BucketLease(bucket_key=key, not_before=NOW - timedelta(seconds=1)))
        session.add(BucketLease(bucket_key="later", not_before=NOW + timedelta(hours=1)))
        session.add(BucketLease(bucket_key="never-leased", not_before=None))

    def claim(session: object, limit: int, *, due_when_null: bool = False) -> list[BucketLease]:
        return claim_due(
            session,  # type: ignore[arg-type]
            BucketLease,
            BucketLease.not_before,
            NOW,
            LEASE,
            BucketLease.bucket_key != "x",
            limit=limit,
            order_by=BucketLease.bucket_key,
            due_when_null=due_when_null,
        )

    with sessions() as first, first.begin():
        assert keys(claim(first, 2)) == ["a", "b"]
        with sessions() as second, second.begin():
            # a and b are locked by the first claimer's open transaction: skipped, not awaited.
            assert keys(claim(second, 10)) == ["c", "d"]
    with sessions() as session:
        due = {row.bucket_key: row.not_before for row in session.scalars(select(BucketLease))}
    assert due == {
        "a": NOW + LEASE,
        "b": NOW + LEASE,
        "c": NOW + LEASE,
        "d": NOW + LEASE,
        "later": NOW + timedelta(hours=1),
        "never-leased": None,
    }
    with transaction(sessions) as session:
        assert claim(session, 10) == []  # everything due is leased now
        assert keys(claim(session, 10, due_when_null=True)) == ["never-leased"]

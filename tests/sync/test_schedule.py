"""The daily full sync: off-peak in the property's time zone, staggered, at most once a day."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from innsync.connections.models import Connection
from innsync.sync.schedule import OFF_PEAK_MINUTES, is_due, stagger_minutes


def connection(last: datetime | None = None) -> Connection:
    return Connection(id=uuid.UUID(int=7), last_full_sync_at=last)


def test_due_only_inside_its_own_off_peak_slot_in_local_time() -> None:
    subject = connection()
    slot = stagger_minutes(subject.id)
    assert 0 <= slot < OFF_PEAK_MINUTES - 30
    # 02:00 in Tokyo is 17:00 UTC the day before.
    local_start = datetime(2026, 11, 21, 17, 0, tzinfo=UTC)
    assert not is_due(
        subject, "Asia/Tokyo", local_start + timedelta(minutes=slot) - timedelta(seconds=1)
    )
    assert is_due(subject, "Asia/Tokyo", local_start + timedelta(minutes=slot))
    assert not is_due(subject, "Asia/Tokyo", local_start + timedelta(minutes=OFF_PEAK_MINUTES))
    assert not is_due(
        subject, "Europe/Lisbon", local_start + timedelta(minutes=slot)
    )  # 17:xx there


def test_never_twice_within_a_day() -> None:
    at = datetime(2026, 11, 21, 17, 0, tzinfo=UTC) + timedelta(
        minutes=stagger_minutes(uuid.UUID(int=7))
    )
    assert not is_due(connection(last=at - timedelta(hours=23)), "Asia/Tokyo", at)
    assert is_due(connection(last=at - timedelta(hours=24)), "Asia/Tokyo", at)


def test_connections_are_spread_over_the_window() -> None:
    slots = {stagger_minutes(uuid.uuid5(uuid.NAMESPACE_DNS, f"c{n}")) for n in range(500)}
    assert len(slots) > 100  # not everyone at 02:00

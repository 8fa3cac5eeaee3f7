"""Each Prometheus metric moves when its cause happens, on a real database.

The registry is the process's own (metrics are module globals), so every assertion reads the
change a step made, never an absolute counter value; the database gauges are absolute, because
each test's rows are its own (rolled back after).
"""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import timedelta

import httpx
from prometheus_client import REGISTRY
from pydantic import SecretStr
from sqlalchemy import select

from innsync import gauges
from innsync.alerts.models import Alert
from innsync.alerts.rules import RULE_NAMES
from innsync.channels.fake import FakeChannel, FakeChannelConfig
from innsync.channels.revision_json import revision_from_json
from innsync.crypto import SecretBox
from innsync.db.base import utcnow
from innsync.db.engine import transaction
from innsync.events.delivery import deliver_due
from innsync.events.schemas import SubscriptionCreate
from innsync.events.service import create_subscription, emit, sequence_pending
from innsync.inbox import reconciler
from innsync.inbox.processor import process_pending
from innsync.outbox.models import DirtyMark
from innsync.reservations.models import Reservation
from tests.conftest import Db
from tests.inbound.builders import SECRET, Processing, booking, encode, make_hotel
from tests.reservations.builders import BEFORE_PMS, pms_rebooks
from tests.sync.engine_fixtures import Clock, build_hotel


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


class Moves:
    """The change of several samples across a step."""

    def __init__(self, *samples: tuple[str, dict[str, str]]) -> None:
        self.samples = samples
        self.before = [sample(name, **labels) for name, labels in samples]

    def deltas(self) -> list[float]:
        return [
            sample(name, **labels) - before
            for (name, labels), before in zip(self.samples, self.before, strict=True)
        ]


def test_pushes_count_by_outcome_and_latency_is_per_channel(db: Db, secret_box: SecretBox) -> None:
    clock = Clock()
    hotel = build_hotel(db.sessions, secret_box, clock, full_sync=False)
    accepted = ("innsync_sync_pushes_total", {"channel": "fake", "kind": "rates"})
    moves = Moves(
        (accepted[0], {**accepted[1], "outcome": "accepted"}),
        ("innsync_sync_pushes_total", {**accepted[1], "outcome": "unavailable"}),
        ("innsync_sync_change_to_ack_seconds_count", {"channel": "fake"}),
    )
    hotel.channel.fail_next(1, "unavailable")
    hotel.ari(
        {
            "rate_plan_id": str(hotel.rate_plan_ids[0]),
            "date_from": hotel.day(10),
            "date_to": hotel.day(10),
            "price": "321.00",
        }
    )
    asyncio.run(hotel.drain(step_seconds=60))

    sent = [r.outcome for r in hotel.channel.requests if r.request.kind == "rates"]
    assert sent == ["unavailable", "accepted"]
    pushes_accepted, pushes_unavailable, latencies = moves.deltas()
    assert (pushes_accepted, pushes_unavailable) == (1, 1)
    assert latencies == 1  # one dirty set cleared, once accepted


def test_pulls_count_successes_and_failures_by_outcome(db: Db, secret_box: SecretBox) -> None:
    with db.sessions() as session:
        make_hotel(session, secret_box)
        session.commit()
    channel = FakeChannel(FakeChannelConfig(webhook_secret=SecretStr(SECRET)))
    processing = Processing(db.sessions, secret_box, adapter=channel)
    clock = Clock()
    moves = Moves(
        ("innsync_inbox_pulls_total", {"channel": "fake", "outcome": "ok"}),
        ("innsync_inbox_pulls_total", {"channel": "fake", "outcome": "unavailable"}),
        ("innsync_inbox_pulls_total", {"channel": "fake", "outcome": "auth"}),
    )

    def pull() -> int:
        return asyncio.run(reconciler.pull_due(db.sessions, processing.adapter_for, clock=clock))

    channel.publish(revision_from_json(booking("B1")))
    assert pull() == 1
    channel.fail_next(1, "unavailable")
    clock.advance(3600)
    assert pull() == 1
    channel.fail_next(1, "auth")
    clock.advance(3600)
    assert pull() == 1
    assert moves.deltas() == [1, 1, 1]


def test_bookings_received_by_kind_and_overbookings(db: Db, secret_box: SecretBox) -> None:
    with db.sessions() as session:
        hotel = make_hotel(session, secret_box, units={"DBL": 1})
        session.commit()
    processing = Processing(db.sessions, secret_box)
    labels = {"channel": "fake"}
    moves = Moves(
        ("innsync_bookings_received_total", {**labels, "kind": "new"}),
        ("innsync_bookings_received_total", {**labels, "kind": "modify"}),
        ("innsync_bookings_received_total", {**labels, "kind": "cancel"}),
        ("innsync_overbookings_total", labels),
    )
    token = hotel.tokens[0]
    processing.deliver(token, encode(booking("B1", 1)))
    processing.deliver(token, encode(booking("B1", 2, "modified", price="120.00")))
    processing.deliver(token, encode(booking("B2", 1)))  # the last unit, already sold
    processing.deliver(token, encode(booking("B1", 2, "modified", price="120.00"), variant=2))
    assert processing.run() == 4
    # A redelivered revision is no booking received; nothing was cancelled yet.
    assert moves.deltas() == [2, 1, 0, 1]

    processing.deliver(token, encode(booking("B2", 2, "cancelled")))
    assert processing.run() == 1
    assert moves.deltas() == [2, 1, 1, 1]


def test_a_held_conflict_is_counted(db: Db, secret_box: SecretBox) -> None:
    with db.sessions() as session:
        hotel = make_hotel(session, secret_box)
        session.commit()
    processing = Processing(db.sessions, secret_box)
    moves = Moves(
        ("innsync_conflicts_total", {"channel": "fake", "resolution": "held"}),
        ("innsync_bookings_received_total", {"channel": "fake", "kind": "modify"}),
    )
    first = booking("B1", 1)
    first["revised_at"] = BEFORE_PMS.isoformat()
    processing.deliver(hotel.tokens[0], encode(first))
    processing.run()
    # Received before the PMS changes the booking, processed after: the revision is held.
    older = booking("B1", 2, "modified", nights=3)
    older["revised_at"] = (BEFORE_PMS + timedelta(minutes=1)).isoformat()
    processing.deliver(hotel.tokens[0], encode(older))
    with db.sessions() as session:
        reservation = session.scalars(select(Reservation)).one()
        pms_rebooks(session, reservation.id, [hotel.room_types["TWN"]])
        session.commit()
    assert processing.run() == 1
    assert moves.deltas() == [1, 0]  # held, not applied


def test_pms_webhook_deliveries_by_outcome(db: Db, secret_box: SecretBox) -> None:
    with transaction(db.sessions) as session:
        tenant_id = make_hotel(session, secret_box).tenant_id
        create_subscription(
            session,
            secret_box,
            tenant_id,
            SubscriptionCreate.model_validate({"url": "https://pms.example/hooks"}),
        )
        for number in range(2):
            emit(session, tenant_id, "test.metrics", {"n": number})
    with transaction(db.sessions) as session:
        assert sequence_pending(session) == 2
    answers = iter([500, 500, 500, 204])
    http = httpx.Client(transport=httpx.MockTransport(lambda _: httpx.Response(next(answers))))
    moves = Moves(
        *(("innsync_webhook_deliveries_total", {"outcome": o}) for o in ("retrying", "failed")),
        ("innsync_webhook_deliveries_total", {"outcome": "delivered"}),
    )
    now = utcnow()

    def deliver(max_attempts: int) -> int:
        return deliver_due(
            db.sessions,
            http,
            secret_box,
            max_attempts=max_attempts,
            timeout_seconds=5,
            rng=random.Random(1),
            now=now,
        )

    # The subscription takes every kind: the two events above, the only ones of the tenant.
    assert deliver(max_attempts=2) == 2  # both answered 500: retried
    now += timedelta(hours=1)
    assert deliver(max_attempts=2) == 2  # 500 on the second attempt: given up; then 204
    assert moves.deltas() == [2, 1, 1]


def test_database_gauges_follow_the_rows_after_a_refresh(db: Db, secret_box: SecretBox) -> None:
    with db.sessions() as session:
        hotel = make_hotel(session, secret_box)
        session.commit()
    channel = FakeChannel(FakeChannelConfig(webhook_secret=SecretStr(SECRET)))
    processing = Processing(db.sessions, secret_box, adapter=channel)

    def refresh() -> None:
        with transaction(db.sessions) as session:
            gauges.refresh(session, utcnow())

    refresh()
    marks = sample("innsync_sync_dirty_marks")
    assert [sample("innsync_inbox_items", status=s) for s in gauges.WAITING_STATES] == [0, 0, 0]
    assert sample("innsync_alerts_open", rule=RULE_NAMES[0]) == 0

    processing.deliver(hotel.tokens[0], encode(booking("B1")))
    processing.deliver(hotel.tokens[0], encode(booking("B2", rooms=["SUITE"])))  # unmapped
    with transaction(db.sessions) as session:
        session.add(
            DirtyMark(
                connection_id=hotel.connections[0],
                kind="availability",
                subject_id=hotel.room_types["DBL"],
                start=utcnow().date(),
                end=utcnow().date() + timedelta(days=1),
            )
        )
        for rule in (RULE_NAMES[0], RULE_NAMES[0], RULE_NAMES[1]):
            subject = str(uuid.uuid4())
            session.add(
                Alert(
                    tenant_id=hotel.tenant_id,
                    rule=rule,
                    subject_kind="connection",
                    subject_id=subject,
                    open_key=f"{rule}:connection:{subject}",
                    opened_at=utcnow(),
                    last_seen_at=utcnow(),
                )
            )
    refresh()
    assert sample("innsync_sync_dirty_marks") == marks + 1
    assert sample("innsync_inbox_items", status="pending") == 2
    assert sample("innsync_alerts_open", rule=RULE_NAMES[0]) == 2
    assert sample("innsync_alerts_open", rule=RULE_NAMES[1]) == 1

    # The booking applies and its acknowledgement fails (due again); the unmapped one parks.
    channel.fail_next(1, "unavailable")
    assert asyncio.run(process_pending(db.sessions, processing.adapter_for, 50)) == 2
    with transaction(db.sessions) as session:
        for alert in session.scalars(select(Alert).where(Alert.rule == RULE_NAMES[0])):
            alert.state, alert.open_key, alert.resolved_at = "resolved", None, utcnow()
    refresh()
    assert sample("innsync_inbox_items", status="pending") == 0
    assert sample("innsync_inbox_items", status="parked") == 1
    assert sample("innsync_inbox_unacknowledged", ack_status="due") == 1
    assert sample("innsync_alerts_open", rule=RULE_NAMES[0]) == 0  # cleared, not left at 2
    assert sample("innsync_alerts_open", rule=RULE_NAMES[1]) == 1

"""Listing and requeuing parked and rejected inbox items (issue #20, item 4)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import func, select

from innsync.channels.fake import FakeChannel, FakeChannelConfig
from innsync.connections.models import ConnectionAudit
from innsync.crypto import SecretBox
from innsync.inbox.models import InboxItem
from innsync.inbox.processor import process_pending
from innsync.tenants.service import issue_key
from tests.api.helpers import Caller, new_tenant, ok, problem
from tests.conftest import Db
from tests.inbound.builders import SECRET, Hotel, Processing, booking, encode, make_hotel

RECEIVED = datetime(2030, 1, 1, 12, tzinfo=UTC)


@pytest.fixture
def hotel(db: Db, secret_box: SecretBox) -> Hotel:
    with db.sessions() as session:
        made = make_hotel(session, secret_box, connections=2)
        session.commit()
    return made


@pytest.fixture
def caller(db: Db, hotel: Hotel) -> Caller:
    with db.sessions() as session:
        issued = issue_key(session, hotel.tenant_id, "operator", ["write"])
        session.commit()
    return Caller(str(hotel.tenant_id), issued.secret)


def add(db: Db, hotel: Hotel, key: str, status: str, **fields: Any) -> int:
    values: dict[str, Any] = {
        "connection_id": hotel.connections[0],
        "tenant_id": hotel.tenant_id,
        "received_at": RECEIVED,
        "source": "webhook",
        "dedupe_key": key,
        "headers": {},
        "body": encode(booking("B1")),
        "status": status,
        "reason": f"{status} because",
        "attempts": 3,
        "processed_at": None if status == "pending" else RECEIVED,
    }
    values.update(fields)
    with db.sessions() as session:
        item = InboxItem(**values)
        session.add(item)
        session.commit()
        return item.id


@pytest.fixture
def items(db: Db, hotel: Hotel) -> dict[str, int]:
    """One item of each kind on the first connection, and a parked one on the second."""
    return {
        "parked": add(db, hotel, "k-parked", "parked", reason="room code 'STE' is not mapped"),
        "rejected": add(db, hotel, "k-rejected", "rejected", reason="the message is malformed"),
        "forged": add(
            db, hotel, "rejected:abc", "rejected", reason="verification failed: bad secret"
        ),
        "unreadable": add(
            db, hotel, "unreadable:r9", "rejected", source="pull", reason="unreadable: no rooms"
        ),
        "applied": add(db, hotel, "k-applied", "applied"),
        "pending": add(db, hotel, "k-pending", "pending"),
        "later": add(
            db,
            hotel,
            "k-later",
            "parked",
            connection_id=hotel.connections[1],
            received_at=RECEIVED + timedelta(hours=2),
        ),
    }


def listed(client: TestClient, caller: Caller, **params: Any) -> list[int]:
    page = ok(client.get("/api/v1/inbox-items", params=params, headers=caller.headers))
    return [item["id"] for item in page["items"]]


def test_lists_parked_and_rejected_items_with_their_reasons_and_filters(
    client: TestClient, caller: Caller, items: dict[str, int], hotel: Hotel, db: Db
) -> None:
    waiting = [items[k] for k in ("parked", "rejected", "forged", "unreadable", "later")]
    assert listed(client, caller) == waiting
    page = ok(client.get("/api/v1/inbox-items", headers=caller.headers))
    first = page["items"][0]
    assert (first["status"], first["reason"], first["can_requeue"]) == (
        "parked",
        "room code 'STE' is not mapped",
        True,
    )
    assert [i["can_requeue"] for i in page["items"]] == [True, True, False, False, True]
    assert "body" not in first  # guests' details never shown
    assert listed(client, caller, state="parked") == [items["parked"], items["later"]]
    assert listed(client, caller, connection_id=str(hotel.connections[1])) == [items["later"]]
    since = (RECEIVED + timedelta(hours=1)).isoformat()
    assert listed(client, caller, since=since) == [items["later"]]

    # Pages of two, by `next_after`.
    seen, after = [], None
    while True:
        params = {"limit": 2, **({"after": after} if after is not None else {})}
        page = ok(client.get("/api/v1/inbox-items", params=params, headers=caller.headers))
        seen += [item["id"] for item in page["items"]]
        after = page["next_after"]
        if after is None:
            break
    assert seen == waiting

    # Another tenant sees none of them, and the connection filter is not found for it.
    other = new_tenant(db.sessions, "Other group")
    assert listed(client, other) == []
    problem(
        client.get(
            "/api/v1/inbox-items",
            params={"connection_id": str(hotel.connections[0])},
            headers=other.headers,
        ),
        404,
        "not found",
    )


def test_requeue_puts_an_item_back_for_the_processor_once_audited_and_idempotent(
    client: TestClient,
    caller: Caller,
    items: dict[str, int],
    hotel: Hotel,
    db: Db,
    secret_box: SecretBox,
) -> None:
    parked = items["parked"]
    answer = ok(
        client.post("/api/v1/inbox-items/requeue", json={"ids": [parked]}, headers=caller.headers)
    )
    assert answer == {"requeued": [parked], "unchanged": [], "refused": []}
    with db.sessions() as session:
        item = session.get_one(InboxItem, parked)
        assert (item.status, item.reason, item.attempts, item.processed_at) == (
            "pending",
            "",
            0,
            None,
        )
    again = ok(
        client.post("/api/v1/inbox-items/requeue", json={"ids": [parked]}, headers=caller.headers)
    )
    assert again == {"requeued": [], "unchanged": [parked], "refused": []}

    channel = FakeChannel(FakeChannelConfig(webhook_secret=SecretStr(SECRET)))
    processing = Processing(db.sessions, secret_box, adapter=channel)
    # Pending items due: the requeued one and the one that was pending already.
    assert asyncio.run(process_pending(db.sessions, processing.adapter_for)) == 2
    with db.sessions() as session:
        assert session.get_one(InboxItem, parked).status == "applied"
        audit = session.scalars(
            select(ConnectionAudit).where(ConnectionAudit.action == "inbox_requeued")
        ).all()
    assert [(row.actor.startswith("key:"), row.detail) for row in audit] == [
        (True, {"count": 1, "item_ids": [parked]})
    ]
    third = ok(
        client.post("/api/v1/inbox-items/requeue", json={"ids": [parked]}, headers=caller.headers)
    )
    assert third == {"requeued": [], "unchanged": [parked], "refused": []}


def test_items_that_can_never_apply_are_a_409_by_id_and_skipped_by_filter(
    client: TestClient, caller: Caller, items: dict[str, int], hotel: Hotel, db: Db
) -> None:
    forged = items["forged"]
    problem(
        client.post(
            "/api/v1/inbox-items/requeue",
            json={"ids": [items["parked"], forged]},
            headers=caller.headers,
        ),
        409,
        f"inbox item {forged} can never apply",
        "failed verification",
    )
    with db.sessions() as session:  # all or nothing: the parked one is still parked
        assert session.get_one(InboxItem, items["parked"]).status == "parked"
    problem(
        client.post(
            "/api/v1/inbox-items/requeue",
            json={"ids": [items["unreadable"]]},
            headers=caller.headers,
        ),
        409,
        "force a pull of the booking instead",
    )

    answer = ok(
        client.post(
            "/api/v1/inbox-items/requeue",
            json={"state": "rejected", "connection_id": str(hotel.connections[0])},
            headers=caller.headers,
        )
    )
    assert answer["requeued"] == [items["rejected"]]
    assert [row["id"] for row in answer["refused"]] == [forged, items["unreadable"]]
    with db.sessions() as session:
        statuses = {
            key: value for key, value in session.execute(select(InboxItem.id, InboxItem.status))
        }
    assert statuses[forged] == statuses[items["unreadable"]] == "rejected"
    assert statuses[items["parked"]] == statuses[items["later"]] == "parked"

    problem(
        client.post(
            "/api/v1/inbox-items/requeue",
            json={"ids": [1], "state": "parked"},
            headers=caller.headers,
        ),
        422,
    )


def test_another_tenants_items_are_not_found_and_left_alone(
    client: TestClient, items: dict[str, int], db: Db
) -> None:
    other = new_tenant(db.sessions, "Other group")
    problem(
        client.post(
            "/api/v1/inbox-items/requeue",
            json={"ids": [items["parked"]]},
            headers=other.headers,
        ),
        404,
        "not found",
    )
    assert ok(
        client.post("/api/v1/inbox-items/requeue", json={"state": "parked"}, headers=other.headers)
    ) == {"requeued": [], "unchanged": [], "refused": []}
    with db.sessions() as session:
        assert session.get_one(InboxItem, items["parked"]).status == "parked"
        assert session.scalar(select(func.count()).select_from(ConnectionAudit)) == 0

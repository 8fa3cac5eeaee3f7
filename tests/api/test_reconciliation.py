"""Forced pulls of one booking and the reconciliation report, against the Channex simulator
(issue #20, item 4): a booking cancelled on the channel without a webhook, and one never
received, are found; a forced pull brings them in through the inbox exactly once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from innsync.connections.models import ConnectionAudit
from innsync.crypto import SecretBox
from innsync.inbox.models import InboxItem
from innsync.inbox.processor import process_pending
from innsync.outbox.models import BookingPush
from innsync.reservations.models import Reservation
from tests.api.channex_site import make_site
from tests.api.helpers import new_tenant, ok, problem
from tests.conftest import Db
from tests.inbound.builders import Processing
from tests.simulators.conftest import SimClient

ARRIVAL = date(2030, 3, 10)


def book(sim: SimClient, provisioned: dict[str, Any], arrival: date = ARRIVAL) -> str:
    room = provisioned["mappings"]["room_types"][0]["channel_code"]
    plans = {m["channel_code"] for m in provisioned["mappings"]["rate_plans"]}
    plan = next(
        p["id"]
        for p in sim.get("/api/v1/rate_plans", {"pagination[limit]": "100"}).json()["data"]
        if p["id"] in plans and p["attributes"]["room_type_id"] == room
    )
    answer = sim.post(
        "/_sim/bookings",
        {
            "property_id": provisioned["remote_property_id"],
            "room_type_id": room,
            "rate_plan_id": plan,
            "arrival_date": arrival.isoformat(),
            "departure_date": (arrival + timedelta(days=2)).isoformat(),
        },
    )
    assert answer.status_code == 201, answer.text
    booking_id: str = answer.json()["data"][0]["attributes"]["booking_id"]
    return booking_id


def process(db: Db, box: SecretBox, sim_app: FastAPI) -> int:
    """Run the inbox processor once, its acknowledgements reaching the simulator."""
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=sim_app))
    processing = Processing(db.sessions, box, http=http)
    return asyncio.run(process_pending(db.sessions, processing.adapter_for))


def report(api: TestClient, headers: dict[str, str], connection_id: str) -> dict[str, Any]:
    window = {"from": ARRIVAL.isoformat(), "to": (ARRIVAL + timedelta(days=5)).isoformat()}
    return ok(  # type: ignore[no-any-return]
        api.get(
            f"/api/v1/connections/{connection_id}/reconciliation", params=window, headers=headers
        )
    )


def test_forced_pull_and_reconciliation_find_what_innsync_missed(
    api: TestClient, db: Db, sim: SimClient, sim_app: FastAPI, secret_box: SecretBox
) -> None:
    caller = new_tenant(db.sessions, "Harbour Group")
    site = make_site(api, caller)
    path = f"/api/v1/connections/{site.connection_id}"
    provisioned = ok(api.post(f"{path}/provision", headers=caller.headers))
    first = book(sim, provisioned)

    # Forced pull: kept in the inbox like any pull, once.
    pulled = ok(api.post(f"{path}/bookings/{first}/pull", headers=caller.headers))
    assert (pulled["channel_booking_id"], pulled["stored"], pulled["status"]) == (
        first,
        True,
        "pending",
    )
    assert pulled["revision_id"] != first  # the revision's id, not the booking's
    again = ok(api.post(f"{path}/bookings/{first}/pull", headers=caller.headers))
    assert (again["stored"], again["inbox_item_id"]) == (False, pulled["inbox_item_id"])
    assert process(db, secret_box, sim_app) == 1
    with db.sessions() as session:
        assert session.get_one(InboxItem, pulled["inbox_item_id"]).status == "applied"
        held = session.scalars(
            select(Reservation).where(Reservation.channel_booking_id == first)
        ).one()
        assert held.status == "confirmed"
        audited = session.scalars(
            select(ConnectionAudit.detail).where(ConnectionAudit.action == "booking_pulled")
        ).all()
    assert [row["stored"] for row in audited] == [True, False]

    clean = report(api, caller.headers, site.connection_id)
    assert (clean["channel_bookings"], clean["innsync_bookings"]) == (1, 1)
    assert clean["missing_in_innsync"] == clean["missing_on_channel"] == clean["differing"] == []

    # Behind innsync's back: the first booking is cancelled on the channel (no webhook is
    # registered, nothing is pulled), a second one is made, a third arrives after the window.
    sim_app.state.simulator.config.clock.advance(minutes=5)  # a later revision, a later time
    assert sim.post(f"/_sim/bookings/{first}/cancel", {}).status_code == 201
    second = book(sim, provisioned, ARRIVAL + timedelta(days=1))
    book(sim, provisioned, ARRIVAL + timedelta(days=30))

    found = report(api, caller.headers, site.connection_id)
    assert (found["channel_bookings"], found["innsync_bookings"]) == (2, 1)
    assert [(f["channel_booking_id"], f["differences"]) for f in found["differing"]] == [
        (first, ["status"])
    ]
    assert found["differing"][0]["channel"]["status"] == "cancelled"
    assert found["differing"][0]["innsync"]["status"] == "confirmed"
    assert found["differing"][0]["reservation_id"] == str(held.id)
    assert [(f["channel_booking_id"], f["differences"]) for f in found["missing_in_innsync"]] == [
        (second, ["missing_in_innsync"])
    ]
    assert found["missing_on_channel"] == []

    # Forced pulls bring both in; the report is clean again.
    for booking_id in (first, second):
        answer = ok(api.post(f"{path}/bookings/{booking_id}/pull", headers=caller.headers))
        assert answer["stored"], (booking_id, first, second, answer)
    assert process(db, secret_box, sim_app) == 2
    after = report(api, caller.headers, site.connection_id)
    assert (after["channel_bookings"], after["innsync_bookings"]) == (2, 2)
    assert after["missing_in_innsync"] == after["missing_on_channel"] == after["differing"] == []


def test_a_reservation_the_channel_does_not_know_is_missing_on_the_channel(
    api: TestClient, db: Db, sim: SimClient, sim_app: FastAPI, secret_box: SecretBox
) -> None:
    caller = new_tenant(db.sessions, "Harbour Group")
    site = make_site(api, caller)
    path = f"/api/v1/connections/{site.connection_id}"
    provisioned = ok(api.post(f"{path}/provision", headers=caller.headers))
    booking_id = book(sim, provisioned)
    ok(api.post(f"{path}/bookings/{booking_id}/pull", headers=caller.headers))
    assert process(db, secret_box, sim_app) == 1
    # The channel's id of innsync's reservation changes behind its back: the channel knows
    # the booking no more (read one by one, a 404).
    with db.sessions() as session:
        held = session.scalars(
            select(Reservation).where(Reservation.channel_booking_id == booking_id)
        ).one()
        held.channel_booking_id = "GONE-1"
        session.commit()

    found = report(api, caller.headers, site.connection_id)
    assert [(f["channel_booking_id"], f["differences"]) for f in found["missing_on_channel"]] == [
        ("GONE-1", ["missing_on_channel"])
    ]
    assert found["missing_on_channel"][0]["innsync"]["arrival"] == ARRIVAL.isoformat()
    assert [f["channel_booking_id"] for f in found["missing_in_innsync"]] == [booking_id]

    # A direct booking innsync pushed to the channel is innsync's too: the same booking, held
    # as a direct reservation with the channel's id on its push, makes the report clean.
    with db.sessions() as session:
        direct = session.get_one(Reservation, held.id)
        direct.connection_id, direct.channel_booking_id = None, None
        session.add(
            BookingPush(
                tenant_id=direct.tenant_id,
                reservation_id=direct.id,
                connection_id=uuid.UUID(site.connection_id),
                state="pushed",
                wanted_revision=1,
                pushed_revision=1,
                channel_booking_id=booking_id,
            )
        )
        session.commit()
    clean = report(api, caller.headers, site.connection_id)
    assert (clean["channel_bookings"], clean["innsync_bookings"]) == (1, 1)
    assert clean["missing_in_innsync"] == clean["missing_on_channel"] == clean["differing"] == []


def test_bad_input_and_channels_without_the_capability_are_clear_answers(
    api: TestClient, db: Db, sim: SimClient
) -> None:
    caller = new_tenant(db.sessions, "Harbour Group")
    site = make_site(api, caller)
    path = f"/api/v1/connections/{site.connection_id}"
    ok(api.post(f"{path}/provision", headers=caller.headers))
    problem(
        api.post(f"{path}/bookings/NO-SUCH/pull", headers=caller.headers),
        404,
        "the channex channel gave no booking 'NO-SUCH'",
    )
    problem(
        api.get(
            f"{path}/reconciliation",
            params={"from": "2030-03-10", "to": "2030-03-01"},
            headers=caller.headers,
        ),
        422,
        "'to' must not be before 'from'",
    )
    problem(
        api.get(
            f"{path}/reconciliation",
            params={"from": "2030-01-01", "to": "2031-06-01"},
            headers=caller.headers,
        ),
        422,
        "longer than 366 days",
    )
    ical = ok(
        api.post(
            f"/api/v1/properties/{site.property_id}/connections",
            json={"channel": "ical", "name": "Airbnb listing", "push_enabled": False},
            headers=caller.headers,
        ),
        201,
    )
    problem(
        api.post(f"/api/v1/connections/{ical['id']}/bookings/B1/pull", headers=caller.headers),
        409,
        "the ical channel cannot read one booking",
    )
    problem(
        api.get(
            f"/api/v1/connections/{ical['id']}/reconciliation",
            params={"from": "2030-03-10", "to": "2030-03-12"},
            headers=caller.headers,
        ),
        409,
        "the ical channel cannot list its bookings",
    )
    other = new_tenant(db.sessions, "Someone else")
    problem(
        api.post(f"{path}/bookings/B1/pull", headers=other.headers),
        404,
        f"connection {uuid.UUID(site.connection_id)} not found",
    )
    with db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(InboxItem)) == 0

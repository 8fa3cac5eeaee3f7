"""Octorate end to end over real HTTP, on SQLite and PostgreSQL (issue #16): the OAuth connect
step through the simulator's authorization page, the hotel's calendar pulled and pushed by
webhook, marketplace bookings through the hotel's confirmation under faults and the quota, and
offers answered from innsync's tables alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select, update

from innsync.connections.credentials import ChannelCredential
from innsync.connections.oauth import OAuthState
from innsync.crypto import SecretBox
from innsync.db.engine import transaction
from innsync.events.models import Event
from innsync.inbox.models import APPLIED, InboxItem
from innsync.inventory.models import RateCalendarDay
from innsync.marketplace.models import ChannelAvailabilityDay
from innsync.outbox.models import DirtyMark
from innsync.properties.models import Property, RatePlan, RoomType
from innsync.properties.service import horizon
from innsync.stay_dates import DateRange
from tests.channels.octorate_live import (
    CLIENT_ID,
    CLIENT_SECRET,
    HORIZON_DAYS,
    LiveOctorate,
    live_octorate,
    state_of,
)

pytestmark = pytest.mark.backends("sqlite", "postgresql")


@pytest.fixture
def live(
    committed: Engine, secret_box: SecretBox, monkeypatch: pytest.MonkeyPatch
) -> Iterator[LiveOctorate]:
    with live_octorate(committed, secret_box, monkeypatch, connect=False) as running:
        yield running


# The OAuth connect step.


def test_the_oauth_dance_stores_the_tokens_encrypted_and_lists_the_accommodations(
    live: LiveOctorate,
) -> None:
    hotel = live.hotels[0]
    authorize = live.start_url(hotel)
    assert authorize.startswith(f"{live.sim_url}/octobook/identity/oauth.xhtml?")
    assert f"client_id={CLIENT_ID}" in authorize
    state = state_of(authorize)
    with live.sessions() as session:
        stored = list(session.scalars(select(OAuthState)))
    # Only the state's hash is kept, never the state itself.
    assert [row.state_hash for row in stored] != [state]
    assert len(stored) == 1

    answer = live.callback(live.approve(authorize))

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["connection_id"] == str(hotel.connection_id)
    assert body["accommodation_id"] == hotel.accommodation_id
    assert [item["id"] for item in body["accommodations"]] == [str(n) for n in range(601, 606)]
    with live.sessions() as session:
        credential = session.scalars(select(ChannelCredential)).one()
    assert credential.connection_id == hotel.connection_id
    assert credential.secret_encrypted is not None
    assert credential.expires_at is not None
    # Encrypted at rest: neither token appears in the stored text.
    held = live.box.decrypt(credential.secret_encrypted)
    assert "rt_" in held
    assert "rt_" not in credential.secret_encrypted
    assert CLIENT_SECRET not in credential.secret_encrypted


def test_a_replayed_tampered_or_expired_state_is_refused_and_nothing_is_exchanged(
    live: LiveOctorate,
) -> None:
    hotel = live.hotels[0]
    back = live.approve(live.start_url(hotel))
    tampered = back.replace(f"state={state_of(back)}", f"state={state_of(back)[:-2]}xx")
    refused = live.callback(tampered)
    assert refused.status_code == 400
    assert "unknown state" in refused.json()["detail"]

    assert live.callback(back).status_code == 200
    replayed = live.callback(back)
    assert replayed.status_code == 400
    assert "already used" in replayed.json()["detail"]

    late = live.approve(live.start_url(hotel))
    with transaction(live.sessions) as session:
        session.execute(
            update(OAuthState)
            .where(OAuthState.used_at.is_(None))
            .values(expires_at=live.clock() - timedelta(seconds=1))
        )
    expired = live.callback(late)
    assert expired.status_code == 400
    assert "expired" in expired.json()["detail"]
    # Only the one good callback exchanged a code: the simulator saw one code grant.
    grants = [
        row
        for row in live.sim("GET", "/_sim/requests")["data"]
        if row.get("endpoint") == "POST /identity/token"
    ]
    assert len(grants) == 1


def test_a_code_older_than_a_minute_is_refused_with_a_clear_400(live: LiveOctorate) -> None:
    back = live.approve(live.start_url(live.hotels[0]))
    live.clock.advance(61)  # §2.2: the code must be exchanged within one minute

    answer = live.callback(back)

    assert answer.status_code == 400
    assert "Octorate refused the code" in answer.json()["detail"]
    with live.sessions() as session:
        assert list(session.scalars(select(ChannelCredential))) == []


def test_the_denied_approval_and_a_missing_state_are_clear_400s(live: LiveOctorate) -> None:
    authorize = live.start_url(live.hotels[0])
    form = {
        "client_id": CLIENT_ID,
        "redirect_uri": f"{live.innsync_url}/oauth/octorate/callback",
        "state": state_of(authorize),
        "decision": "deny",
    }
    denied = httpx.post(f"{live.sim_url}/octobook/identity/oauth.xhtml", data=form, timeout=30)
    answer = live.callback(denied.headers["location"])
    assert answer.status_code == 400
    assert "did not approve" in answer.json()["detail"]
    bare = httpx.get(f"{live.innsync_url}/oauth/octorate/callback?code=x", timeout=30)
    assert bare.status_code == 400


def test_the_start_needs_an_api_key(live: LiveOctorate) -> None:
    answer = httpx.get(
        f"{live.innsync_url}/api/v1/connections/{live.hotels[0].connection_id}/oauth/start",
        follow_redirects=False,
        timeout=30,
    )
    assert answer.status_code == 401
    with live.sessions() as session:
        assert list(session.scalars(select(OAuthState))) == []


# The hotel's calendar.


def connected(live: LiveOctorate) -> LiveOctorate:
    from innsync.marketplace.schemas import AriSourceWrite
    from innsync.marketplace.sources import set_ari_source

    for hotel in live.hotels:
        live.connect(hotel)
        with transaction(live.sessions) as session:
            set_ari_source(
                session,
                live.tenant_id,
                hotel.property_id,
                AriSourceWrite(connection_id=hotel.connection_id),
                live.clock(),
            )
    return live


def simulator_calendar(
    live: LiveOctorate, accommodation: int, window: DateRange
) -> dict[int, dict[str, Any]]:
    """The simulator's calendar over ``window``, read as any app would (its own login)."""
    login = httpx.post(
        f"{live.sim_url}/connect/rest/v1/identity/apilogin",
        data={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
        timeout=30,
    ).json()
    answer = httpx.get(
        f"{live.sim_url}/connect/rest/v1/calendar/{accommodation}",
        params={
            "dateFrom": window.start.isoformat(),
            "dateTo": window.last.isoformat(),
        },
        headers={"authorization": f"Bearer {login['access_token']}"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return {
        product["id"]: {day["date"]: day for day in product["days"]}
        for product in answer.json()["data"]
    }


def test_a_hotels_365_day_calendar_arrives_and_equals_the_simulators(
    live: LiveOctorate,
) -> None:
    connected(live)
    hotel = live.hotels[0]
    live.sim("POST", "/_sim/calendar/generate", {"count": 400})
    live.sim("POST", "/_sim/calendar", {"room": 60112, "dateFrom": live.day(300).isoformat(),
             "dateTo": live.day(310).isoformat(),
             "values": {"stopSells": True, "minStay": 3, "closeToArrival": True}})  # fmt: skip

    result = live.pull(hotel)

    assert result is not None
    assert not result.unknown_codes
    # One pull is two calls charged to the accommodation (room rates, the calendar's one page).
    assert live.sim("GET", "/_sim/quota")["accommodations"]["601"]["calls_in_window"] == 2
    with live.sessions() as session:
        # innsync's window: yesterday to the property's horizon of 365 days.
        window = horizon(session.get_one(Property, hotel.property_id), live.clock())
    assert window.nights == HORIZON_DAYS + 1
    held = simulator_calendar(live, hotel.accommodation_id, window)
    with live.sessions() as session:
        rooms = {row.code: row.id for row in session.scalars(select(RoomType))}
        plans = {row.code: row for row in session.scalars(select(RatePlan))}
        units = {
            (row.room_type_id, row.stay_date.isoformat()): row.available
            for row in session.scalars(select(ChannelAvailabilityDay))
        }
        calendar = {
            (row.rate_plan_id, row.stay_date.isoformat()): row
            for row in session.scalars(select(RateCalendarDay))
        }
    assert set(rooms) == {"6011", "6012"}
    assert set(plans) == {"60111", "60112", "60121"}
    assert plans["60121"].room_type_id == rooms["6012"]
    compared = 0
    for product_id, days in held.items():
        assert len(days) == window.nights
        for stay_date, values in days.items():
            if str(product_id) in rooms:
                assert units[(rooms[str(product_id)], stay_date)] == values["availability"]
            else:
                stored = calendar[(plans[str(product_id)].id, stay_date)]
                assert stored.price == Decimal(str(values["price"]))
                assert stored.min_stay_arrival == max(values["minStay"], 1)
                assert stored.max_stay == values["maxStay"]
                assert stored.stop_sell == values["stopSells"]
                assert stored.closed_to_arrival == values["closeToArrival"]
                assert stored.closed_to_departure == values["closeToDeparture"]
            compared += 1
    assert compared == 5 * window.nights
    assert len(units) == 2 * window.nights
    assert len(calendar) == 3 * window.nights


def test_a_calendar_webhook_and_the_next_pull_agree_without_writes(live: LiveOctorate) -> None:
    connected(live)
    hotel = live.hotels[0]
    live.pull(hotel)
    subscribed = live.run(
        lambda build: build(live.connection(hotel)).register_webhooks(hook_url(live, hotel))
    )
    assert subscribed == 5
    change = {"price": 155.5, "minStay": 2}
    live.sim("POST", "/_sim/calendar", {"room": 60111, "dateFrom": live.day(20).isoformat(),
             "dateTo": live.day(24).isoformat(), "values": change})  # fmt: skip
    live.sim("POST", "/_sim/calendar", {"room": 6011, "dateFrom": live.day(22).isoformat(),
             "dateTo": live.day(22).isoformat(), "values": {"availability": 3}})  # fmt: skip

    assert live.tick()["attempted"] == 2  # the two calendar webhooks, delivered to innsync
    assert live.inbound() == 2

    with live.sessions() as session:
        items = list(session.scalars(select(InboxItem)))
        plan = session.scalars(select(RatePlan).where(RatePlan.code == "60111")).one()
        room = session.scalars(select(RoomType).where(RoomType.code == "6011")).one()
        day = session.get_one(RateCalendarDay, (plan.id, live.day(22)))
        units = session.get_one(ChannelAvailabilityDay, (room.id, live.day(22)))
    assert [item.status for item in items] == [APPLIED, APPLIED]
    assert (day.price, day.min_stay_arrival, units.available) == (Decimal("155.5"), 2, 3)
    counts = (
        live.count(RateCalendarDay),
        live.count(ChannelAvailabilityDay),
        live.count(DirtyMark),
        live.count(Event),
    )

    live.clock.advance(3600)
    result = live.pull(hotel)

    assert result is not None
    assert result.changed == 0
    assert (
        live.count(RateCalendarDay),
        live.count(ChannelAvailabilityDay),
        live.count(DirtyMark),
        live.count(Event),
    ) == counts


def hook_url(live: LiveOctorate, hotel: Any) -> str:
    connection = live.connection(hotel)
    return f"{live.innsync_url}/hooks/{connection.webhook_token}"

"""The Agoda adapter against its simulator over ASGI: pull limits, errors, unreadable bookings."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from typing import Any, TypeVar

import httpx
import pytest
from pydantic import SecretStr

from innsync.channels.agoda import AgodaAdapter, AgodaConfig
from innsync.channels.errors import ChannelAuthError, ChannelUnavailableError
from innsync.simulators.agoda import SimulatorConfig, create_app
from innsync.xmlkit.parsing import attribute, parse_xml, path
from tests.simulators.conftest import START, FakeClock

T = TypeVar("T")
KEY = "adapter-agoda-key"


class Rig:
    """The simulator, an adapter on it and their shared clock."""

    def __init__(self, **config: Any) -> None:
        self.clock = FakeClock(START)
        self.app = create_app(
            SimulatorConfig(api_key=KEY, seed=3, clock=self.clock, pump_interval_seconds=None)
        )
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://agoda.sim"
        )
        self.config = AgodaConfig(
            property_id="226110", api_key=SecretStr(KEY), base_url="http://agoda.sim", **config
        )
        self.adapter = AgodaAdapter(self.config, self.http, now=self.clock)

    def run(self, step: Callable[[], Awaitable[T]]) -> T:
        async def go() -> T:
            return await step()

        return asyncio.run(go())

    def sim(self, method: str, path_: str, body: Any = None) -> Any:
        async def go() -> Any:
            answer = await self.http.request(method, "/_sim" + path_, json=body)
            assert answer.is_success, answer.text
            return answer.json()

        return asyncio.run(go())

    def calls(self, request_type: str) -> list[dict[str, Any]]:
        rows = self.sim("GET", "/requests?bodies=1")["data"]
        return [row for row in rows if f'type="{request_type}"' in row["body"][:200]]


@pytest.fixture
def rig() -> Iterator[Rig]:
    built = Rig()
    yield built
    asyncio.run(built.http.aclose())


def test_details_are_fetched_50_bookings_a_call(rig: Rig) -> None:
    made = {rig.sim("POST", "/bookings", {})["data"]["booking_id"] for _ in range(120)}
    page = rig.run(lambda: rig.adapter.pull_revisions(None))
    assert {revision.channel_booking_id for revision in page.revisions} == made
    details = rig.calls("4")
    sizes = [
        len(list(path(parse_xml(row["body"].encode()), "criteria", "property", "booking")))
        for row in details
    ]
    assert sizes == [50, 50, 20]
    assert len(rig.calls("3")) == 3  # one list per status (§3.3 criteria)
    assert rig.sim("GET", "/counters")["acknowledged"] == 120


def test_a_pull_far_behind_reads_90_days_a_window_and_asks_again(rig: Rig) -> None:
    cursor = (START - timedelta(days=200)).isoformat()
    first = rig.run(lambda: rig.adapter.pull_revisions(cursor))
    assert first.has_more
    second = rig.run(lambda: rig.adapter.pull_revisions(first.next_cursor))
    third = rig.run(lambda: rig.adapter.pull_revisions(second.next_cursor))
    assert (second.has_more, third.has_more) == (True, False)
    assert third.next_cursor == START.isoformat()
    windows = {
        (attribute(c, "from"), attribute(c, "to"))
        for row in rig.calls("3")
        for c in path(parse_xml(row["body"].encode()), "criteria")
    }
    assert len(windows) == 3  # every list call within §3.3's 90 days (else refused)


def test_an_unreadable_booking_is_kept_for_audit_and_the_others_go_through(rig: Rig) -> None:
    good = rig.sim("POST", "/bookings", {})["data"]["booking_id"]
    bad = rig.sim("POST", "/bookings", {"flaw": "price_outside_stay"})["data"]["booking_id"]
    page = rig.run(lambda: rig.adapter.pull_revisions(None))
    assert [revision.channel_booking_id for revision in page.revisions] == [good]
    (kept,) = page.unreadable
    assert kept.key.startswith(f"{bad}@")
    assert "outside the stay" in kept.reason
    assert bad.encode() in kept.body


def test_a_wrong_key_is_an_auth_error_and_a_429_waits_the_minute(rig: Rig) -> None:
    wrong = AgodaAdapter(
        rig.config.model_copy(update={"api_key": SecretStr("nope")}), rig.http, now=rig.clock
    )
    with pytest.raises(ChannelAuthError):
        rig.run(wrong.test_connection)
    rig.sim("POST", "/faults", {"too_many_requests_rate": 1.0})
    with pytest.raises(ChannelUnavailableError) as raised:
        rig.run(rig.adapter.test_connection)
    assert raised.value.retry_after == 60.0
    assert KEY not in str(raised.value)

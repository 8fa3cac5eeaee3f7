"""Rate plans removed in innsync are removed on Channex once unmapped (issue #21, part 4).

Over real HTTP: the operator unmaps a plan, deletes it in innsync, and asks innsync to remove
the Channex rate plans no mapping uses; Channex keeps one an OTA channel still maps (§1.4:
only `force` deletes a mapped plan), and innsync says why.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine

from innsync.crypto import SecretBox
from tests.channels.channex_live import LiveChannex, live_channex

pytestmark = pytest.mark.backends("sqlite", "postgresql")


@pytest.fixture
def live(committed: Engine, secret_box: SecretBox) -> Iterator[LiveChannex]:
    with live_channex(committed, secret_box) as running:
        yield running


def channex_plans(live: LiveChannex) -> set[str]:
    body = live.sim.get(
        "/api/v1/rate_plans",
        {"filter[property_id]": live.channex.property_id, "pagination[limit]": "100"},
    ).json()
    return {item["id"] for item in body["data"]}


def test_a_removed_and_unmapped_rate_plan_is_removed_on_channex(live: LiveChannex) -> None:
    ours, theirs = live.rate_plan_ids, live.channex.rate_plan_ids
    assert len(ours) == len(theirs) >= 4
    gone, sold_by_ota = 1, 3
    # An OTA on Channex still sells the plan innsync will only unmap.
    live.sim.post(
        "/_sim/channels",
        {
            "property_id": live.channex.property_id,
            "channel": "BookingCom",
            "rate_plan_ids": [theirs[sold_by_ota]],
        },
    )
    with live.api() as api:
        url = f"/api/v1/connections/{live.connection_id}/mappings"
        mappings: dict[str, Any] = api.get(url).json()
        kept_plans = [
            m
            for m in mappings["rate_plans"]
            if m["channel_code"] not in {theirs[gone], theirs[sold_by_ota]}
        ]
        body = {"room_types": mappings["room_types"], "rate_plans": kept_plans}
        assert api.put(url, json=body).status_code == 200
        deleted = api.delete(f"/api/v1/rate-plans/{ours[gone]}")
        assert deleted.status_code == 204, deleted.text

        answer = api.post(f"/api/v1/connections/{live.connection_id}/remote-catalog/remove-unused")
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["removed"] == [theirs[gone]]
    (kept,) = result["kept"]
    assert kept["remote_id"] == theirs[sold_by_ota]
    assert "has channel(s)" in kept["reason"]
    assert channex_plans(live) == set(theirs) - {theirs[gone]}

    # Nothing unused is left but the plan the OTA sells: a second call removes nothing more.
    with live.api() as api:
        again = api.post(f"/api/v1/connections/{live.connection_id}/remote-catalog/remove-unused")
    assert again.json()["removed"] == []
    assert [k["remote_id"] for k in again.json()["kept"]] == [theirs[sold_by_ota]]
    deletes = [
        row for row in live.sim.get("/_sim/requests").json()["data"] if row["method"] == "DELETE"
    ]
    assert len(deletes) == 3  # one removed, the OTA's plan refused twice

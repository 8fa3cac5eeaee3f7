"""Every AR, BR, BC and PARR request the Expedia adapter sends has the structure of Expedia's
published examples (``tests/channels/reference/expedia/``, sources in its README)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi import FastAPI

from innsync.channels.expedia import ExpediaAdapter
from innsync.channels.types import AvailabilityUpdate, PushRequest, RateUpdate, RateValues
from innsync.simulators.expedia import SimulatorConfig, create_app
from innsync.stay_dates import DateRange
from innsync.xmlkit.parsing import Element, local_name, namespace_of, parse_xml
from tests.channels.expedia_support import adapter_config, with_adapter
from tests.simulators.conftest import SimClient

REFERENCE = Path(__file__).parent / "reference" / "expedia"
Shape = set[tuple[str, str | None]]
"""(element path from the root, attribute name or None for the element itself)."""


def shape(root: Element) -> Shape:
    found: Shape = set()

    def walk(element: Element, prefix: str) -> None:
        here = f"{prefix}/{local_name(element)}"
        found.add((here, None))
        found.update((here, name) for name in element.attrib)
        for sub in element:
            if isinstance(sub.tag, str):
                walk(sub, here)

    walk(root, "")
    return found


def reference_shapes() -> dict[str, tuple[str | None, Shape]]:
    """Per root element: the examples' namespace and the union of their shapes (requests)."""
    found: dict[str, tuple[str | None, Shape]] = {}
    for path in sorted(REFERENCE.glob("*.xml")):
        root = parse_xml(path.read_bytes())
        name = local_name(root)
        if not name.endswith("RQ"):
            continue
        namespace, known = found.get(name, (namespace_of(root), set()))
        assert namespace == namespace_of(root)
        found[name] = (namespace, known | shape(root))
    return found


@pytest.fixture(scope="module")
def sent() -> list[bytes]:
    """Every request body the adapter sent while doing all it does, on both pricing models."""
    app: FastAPI = create_app(SimulatorConfig(pump_interval_seconds=None))
    sim = SimClient(app, api_key=None)
    today = app.state.simulator.now().date()
    dates = DateRange(today + timedelta(days=3), today + timedelta(days=40))
    weekends = frozenset({4, 5})
    full = RateValues(
        price=Decimal("120.00"),
        min_stay_arrival=2,
        max_stay=14,
        closed_to_arrival=False,
        closed_to_departure=True,
        stop_sell=False,
    )

    async def per_day(adapter: ExpediaAdapter) -> None:
        await adapter.test_connection()
        await adapter.push_ari(
            PushRequest("availability", (AvailabilityUpdate("20000", dates, 5, weekends),), today),
            PushRequest(
                "rates",
                (
                    RateUpdate("20000", "21000", dates, full, weekends),
                    RateUpdate("23000", "24000", dates, RateValues(closed_to_departure=True)),
                ),
                today,
            ),
        )
        page = await adapter.pull_revisions(None)
        for revision in page.revisions:
            await adapter.acknowledge_revision(revision.revision_id)
        await adapter.read_availability(["20000", "23000"], dates)
        await adapter.read_rates([("20000", "21000"), ("23000", "24000")], dates)

    async def per_occupancy(adapter: ExpediaAdapter) -> None:
        prices = RateValues(
            occupancy_prices=((1, Decimal("80")), (2, Decimal("100.50"))), min_stay_arrival=1
        )
        await adapter.push_rates(
            PushRequest("rates", (RateUpdate("40000", "41000", dates, prices),), today)
        )

    assert sim.post("/_sim/bookings", {"hotel_id": "211", "count": 2}).status_code == 201
    with_adapter(app, adapter_config("211"), per_day)
    with_adapter(app, adapter_config("411", pricing="per_occupancy"), per_occupancy)
    rows = sim.get("/_sim/requests", params={"bodies": "1"}).json()["data"]
    assert [row["status"] for row in rows] == [200] * len(rows)
    assert app.state.simulator.counters["errors"] == 0
    return [row["body"].encode() for row in rows]


def test_the_examples_cover_ar_br_and_bc_requests() -> None:
    assert set(reference_shapes()) == {
        "AvailRateUpdateRQ",
        "BookingRetrievalRQ",
        "BookingConfirmRQ",
        "ProductAvailRateRetrievalRQ",
    }


def test_every_request_sent_uses_only_names_from_the_published_examples(sent: list[bytes]) -> None:
    references = reference_shapes()
    roots = []
    for body in sent:
        root = parse_xml(body)
        name = local_name(root)
        roots.append(name)
        namespace, known = references[name]
        assert namespace_of(root) == namespace
        unknown = shape(root) - known
        assert unknown == set(), f"{name} uses names no example has: {sorted(map(str, unknown))}"
    # Every kind of request was made: AR on both pricing models, BR (test and pull), BC, and
    # PARR for availability and for rates, 38 days each in pieces of at most 31.
    assert roots.count("AvailRateUpdateRQ") == 2
    assert roots.count("BookingRetrievalRQ") == 2
    assert roots.count("BookingConfirmRQ") == 2
    assert roots.count("ProductAvailRateRetrievalRQ") == 4


def test_the_requests_use_the_examples_richest_parts(sent: list[bytes]) -> None:
    # Not a subset by accident: weekday flags, rates, restrictions, closed flags and the
    # per-occupancy rates all appear in what the adapter sent.
    used: Shape = set().union(*(shape(parse_xml(body)) for body in sent))
    prefix = "/AvailRateUpdateRQ/AvailRateUpdate"
    for expected in (
        (f"{prefix}/DateRange", "sat"),
        (f"{prefix}/RoomType/Inventory", "totalInventoryAvailable"),
        (f"{prefix}/RoomType/RatePlan", "closed"),
        (f"{prefix}/RoomType/RatePlan/Rate/PerDay", "rate"),
        (f"{prefix}/RoomType/RatePlan/Rate/PerOccupancy", "occupancy"),
        (f"{prefix}/RoomType/RatePlan/Restrictions", "closedToDeparture"),
        (f"{prefix}/RoomType/RatePlan/Restrictions", "maxLOS"),
        ("/BookingRetrievalRQ/ParamSet/Status", "value"),
        ("/BookingConfirmRQ/BookingConfirmNumbers/BookingConfirmNumber", "confirmTime"),
        ("/ProductAvailRateRetrievalRQ/ParamSet/AvailRateRetrieval", "rates"),
        ("/ProductAvailRateRetrievalRQ/ParamSet/AvailRateRetrieval/RoomType/RatePlan", "id"),
    ):
        assert expected in used

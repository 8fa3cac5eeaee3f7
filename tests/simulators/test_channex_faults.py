"""Channex simulator: injected faults, inspection, reset and serving over a loopback socket."""

from __future__ import annotations

from collections import Counter

import httpx

from innsync.simulators.channex import FaultSettings
from tests.servers import serving
from tests.simulators.conftest import API_KEY, Sim, SimFactory, create_hotel, day


def statuses(sim: Sim, count: int) -> list[int]:
    return [sim.client.get("/api/v1/properties").status_code for _ in range(count)]


def test_faults_replay_exactly_for_a_seed(make_sim: SimFactory) -> None:
    faults = {"server_error_rate": 0.3, "too_many_requests_rate": 0.2}
    first, twin, other = make_sim(), make_sim(), make_sim()
    for sim, seed in ((first, 5), (twin, 5), (other, 6)):
        assert sim.client.post("/_sim/faults", {**faults, "seed": seed}).status_code == 200

    sequence = statuses(first, 60)

    assert sequence == statuses(twin, 60)
    assert sequence != statuses(other, 60)
    counts = Counter(sequence)
    assert set(counts) <= {200, 429, 500, 502, 503}
    assert counts[200] > 0
    assert counts[429] > 0
    assert counts[500] + counts[502] + counts[503] > 0
    # Reseeding the same app replays the same sequence.
    first.client.post("/_sim/faults", {"seed": 5})
    assert statuses(first, 60) == sequence


def test_faults_set_at_start_apply_without_control_calls(make_sim: SimFactory) -> None:
    sim = make_sim(faults=FaultSettings(server_error_rate=1.0))

    response = sim.client.get("/api/v1/properties")

    assert response.status_code in (500, 502, 503)
    assert response.json()["errors"]["code"] in (
        "internal_server_error",
        "bad_gateway",
        "service_unavailable",
    )
    assert sim.client.delete("/_sim/faults").json()["server_error_rate"] == 1.0
    # /_sim/ is the control plane: never faulted, never logged.
    assert sim.client.get("/_sim/requests").status_code == 200
    assert len(sim.client.get("/_sim/requests").json()["data"]) == 1


def test_injected_429_processes_nothing(sim: Sim) -> None:
    hotel = create_hotel(sim.client)
    sim.client.post("/_sim/faults", {"too_many_requests_rate": 1.0})

    response = sim.client.post(
        "/api/v1/restrictions",
        {
            "values": [
                {
                    "property_id": hotel.property_id,
                    "rate_plan_id": hotel.twin_bar_id,
                    "date": day(1),
                    "rate": 999,
                }
            ]
        },
    )
    sim.client.post("/_sim/faults", {"too_many_requests_rate": 0.0})

    assert response.status_code == 429
    assert response.json() == {
        "errors": {"code": "http_too_many_requests", "title": "Too Many Requests"}
    }
    rates = sim.client.get(
        "/api/v1/restrictions",
        {
            "filter[property_id]": hotel.property_id,
            "filter[date]": day(1),
            "filter[restrictions]": "rate",
        },
    ).json()["data"]
    assert rates[hotel.twin_bar_id][day(1)] == {"rate": "100.00"}


def test_latency_and_timeouts_sleep_through_the_injected_sleep(sim: Sim) -> None:
    hotel = create_hotel(sim.client)
    sim.client.post("/_sim/faults", {"latency_seconds": 0.25})
    statuses(sim, 2)
    sim.client.post(
        "/_sim/faults", {"latency_seconds": 0.0, "timeout_rate": 1.0, "timeout_seconds": 40}
    )

    timed_out = sim.client.post(
        "/api/v1/availability",
        {
            "values": [
                {
                    "property_id": hotel.property_id,
                    "room_type_id": hotel.twin_id,
                    "date": day(1),
                    "availability": 6,
                }
            ]
        },
    )

    assert sim.sleep.delays == [0.25, 0.25, 40.0]
    # The client has given up by then, but the server still did the work.
    assert timed_out.status_code == 200
    ari = sim.client.get("/_sim/ari").json()["data"][hotel.property_id]["availability"]
    assert ari[hotel.twin_id] == {day(1): 6}


def test_invalid_fault_settings_are_refused(sim: Sim) -> None:
    over_one = sim.client.post("/_sim/faults", {"server_error_rate": 0.7, "timeout_rate": 0.5})
    unknown = sim.client.post("/_sim/faults", {"explode": True})

    assert over_one.status_code == 422
    assert unknown.status_code == 422
    assert unknown.json()["errors"]["details"] == {"explode": ["Extra inputs are not permitted"]}
    assert sim.client.get("/_sim/faults").json() == {"seed": 7, **FaultSettings().model_dump()}


def test_reset_forgets_everything(sim: Sim) -> None:
    hotel = create_hotel(sim.client)
    sim.client.post("/_sim/bookings/generate", {"count": 2, "property_id": hotel.property_id})
    sim.client.post("/_sim/faults", {"latency_seconds": 1.0})

    assert sim.client.post("/_sim/reset").json() == {"message": "Success"}

    assert sim.client.get("/_sim/requests").json() == {"data": []}
    assert sim.client.get("/_sim/bookings").json() == {"data": []}
    assert sim.client.get("/_sim/faults").json()["latency_seconds"] == 0.0
    assert sim.client.get("/api/v1/properties").json()["meta"]["total"] == 0


def test_ids_are_deterministic_for_a_seed(make_sim: SimFactory) -> None:
    first, second = make_sim(), make_sim()

    assert create_hotel(first.client) == create_hotel(second.client)


def test_serves_real_http_on_loopback(make_sim: SimFactory) -> None:
    sim = make_sim(pump_interval_seconds=0.05)

    with serving(sim.app) as base_url:
        anonymous = httpx.get(f"{base_url}/api/v1/properties")
        created = httpx.post(
            f"{base_url}/api/v1/properties",
            json={"property": {"title": "Loopback", "currency": "EUR"}},
            headers={"user-api-key": API_KEY},
        )

    assert anonymous.status_code == 401
    assert created.status_code == 201
    assert created.headers["x-request-id"]
    assert created.json()["data"]["attributes"]["title"] == "Loopback"

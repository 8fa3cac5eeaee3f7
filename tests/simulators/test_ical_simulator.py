"""The iCal simulator against what platforms publish (landscape §4): feeds, faults, polls."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from fastapi.testclient import TestClient

from innsync.simulators.ical.app import create_app
from innsync.simulators.ical.config import SimulatorConfig

NOW = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)
EXPORT = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:x@innsync\r\n"
    "DTSTART;VALUE=DATE:20300110\r\nDTEND;VALUE=DATE:20300112\r\nSUMMARY:Not available\r\n"
    "END:VEVENT\r\nEND:VCALENDAR\r\n"
)


def export_handler(request: httpx.Request) -> httpx.Response:
    if request.headers.get("if-none-match") == '"e1"':
        return httpx.Response(304)
    return httpx.Response(200, text=EXPORT, headers={"etag": '"e1"'})


async def no_sleep(_: float) -> None:
    return None


@pytest.fixture
def sim() -> Iterator[TestClient]:
    config = SimulatorConfig(
        seed=7,
        clock=lambda: NOW,
        sleep=no_sleep,
        http=lambda: httpx.AsyncClient(transport=httpx.MockTransport(export_handler)),
        huge_bytes=10_000,
    )
    with TestClient(create_app(config)) as client:
        yield client


def listing(sim: TestClient, flavour: str) -> dict[str, str]:
    response = sim.post("/_sim/listings", json={"flavour": flavour})
    assert response.status_code == 201
    made: dict[str, str] = response.json()
    return made


def test_airbnb_feed_looks_like_airbnbs_and_answers_304(sim: TestClient) -> None:
    made = listing(sim, "airbnb")
    lid = made["listing_id"]
    assert (
        sim.post(
            f"/_sim/listings/{lid}/bookings", json={"start": "2030-01-10", "end": "2030-01-13"}
        ).status_code
        == 201
    )
    sim.post(f"/_sim/listings/{lid}/blocks", json={"start": "2030-02-01", "end": "2030-02-05"})
    feed = sim.get(made["feed_path"])
    assert feed.status_code == 200
    text = feed.text
    assert "PRODID:-//Airbnb Inc//Hosting Calendar 0.8.8//EN" in text
    assert "SUMMARY:Reserved\r\n" in text
    assert "SUMMARY:Airbnb (Not available)\r\n" in text
    assert "DTEND;VALUE=DATE:20300113\r\n" in text  # exclusive: the check-out day
    assert all(len(line) <= 75 for line in text.split("\r\n"))
    assert "\r\n " in text  # the long DESCRIPTION is folded
    again = sim.get(made["feed_path"], headers={"if-none-match": feed.headers["etag"]})
    assert again.status_code == 304
    wrong = made["feed_path"].split("?s=")[0] + "?s=nope"
    assert sim.get(wrong).status_code == 404


def test_vrbo_summaries_and_cancellation_is_disappearance(sim: TestClient) -> None:
    made = listing(sim, "vrbo")
    lid = made["listing_id"]
    uid = sim.post(
        f"/_sim/listings/{lid}/bookings",
        json={"start": "2030-01-10", "end": "2030-01-11", "guest": "Ana"},
    ).json()["uid"]
    sim.post(f"/_sim/listings/{lid}/blocks", json={"start": "2030-02-01", "end": "2030-02-02"})
    text = sim.get(made["feed_path"]).text
    assert "SUMMARY:Reserved - Ana" in text
    assert "SUMMARY:Blocked" in text
    assert sim.post(f"/_sim/listings/{lid}/events/{uid}/cancel").status_code == 200
    assert uid not in sim.get(made["feed_path"]).text


@pytest.mark.parametrize(
    ("kind", "status", "starts"),
    [
        ("404", 404, b"<html>"),
        ("html", 200, b"<!DOCTYPE"),
        ("empty", 200, b""),
        ("malformed", 200, b"BEGIN"),
    ],
)
def test_feed_faults(sim: TestClient, kind: str, status: int, starts: bytes) -> None:
    made = listing(sim, "airbnb")
    sim.post(f"/_sim/listings/{made['listing_id']}/feed-fault", json={"kind": kind})
    answer = sim.get(made["feed_path"])
    assert answer.status_code == status
    assert answer.content.startswith(starts)
    assert b"END:VCALENDAR" not in answer.content


def test_huge_feed_and_injected_server_errors(sim: TestClient) -> None:
    made = listing(sim, "airbnb")
    sim.post(f"/_sim/listings/{made['listing_id']}/feed-fault", json={"kind": "huge"})
    assert len(sim.get(made["feed_path"]).content) == 10_000
    sim.post(f"/_sim/listings/{made['listing_id']}/feed-fault", json={"kind": None})
    sim.post("/_sim/faults", json={"server_error_rate": 1.0})
    assert sim.get(made["feed_path"]).status_code in (500, 502, 503)
    sim.delete("/_sim/faults")
    assert sim.get(made["feed_path"]).status_code == 200


def test_request_log_masks_the_feed_secret(sim: TestClient) -> None:
    made = listing(sim, "airbnb")
    token = made["feed_path"].split("?s=")[1]
    sim.get(made["feed_path"])
    rows = sim.get("/_sim/requests", params={"bodies": 1}).json()["data"]
    assert rows
    assert token not in str(rows)


def test_generation_is_seeded(sim: TestClient) -> None:
    def uids() -> list[str]:
        sim.post("/_sim/reset")
        lid = listing(sim, "airbnb")["listing_id"]
        made: list[str] = sim.post(
            f"/_sim/listings/{lid}/generate",
            json={"bookings": 3, "blocks": 2, "today": "2030-01-07"},
        ).json()["uids"]
        return made

    assert uids() == uids()


def test_tick_polls_innsyncs_export_conditionally(sim: TestClient) -> None:
    lid = listing(sim, "airbnb")["listing_id"]
    sim.put(f"/_sim/listings/{lid}/import", json={"url": "http://innsync.test/ical/t.ics"})
    assert sim.post("/_sim/tick").json() == {"polled": 1}
    sim.post("/_sim/tick")
    seen = sim.get(f"/_sim/listings/{lid}").json()
    assert [f["status"] for f in seen["fetches"]] == [200, 304]
    assert seen["imported"] == [
        {"uid": "x@innsync", "start": "2030-01-10", "end": "2030-01-12", "summary": "Not available"}
    ]


def test_a_body_over_the_feeds_cap_is_refused_and_logged(sim: TestClient) -> None:
    made = listing(sim, "airbnb")
    refused = sim.request("GET", made["feed_path"], content=b"x" * 64_001)
    assert refused.status_code == 413
    fine = sim.get(made["feed_path"])
    assert fine.status_code == 200
    rows = sim.get("/_sim/requests").json()["data"]
    assert [(row["status"], row["body_bytes"]) for row in rows[-2:]] == [(413, 64_001), (200, 0)]

"""The Booking.com simulator against the notes (§3.1), spoken to directly over ASGI."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from innsync.simulators.booking_com import SimulatorConfig, create_app
from innsync.xmlkit.parsing import attribute, child, parse_xml, path
from innsync.xmlkit.validation import opentravel_2015a
from tests.simulators.conftest import SimClient

START = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)
SECRET = "booking-sim-secret"
NS = "http://www.opentravel.org/OTA/2003/05"


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Sim:
    def __init__(self, **options: Any) -> None:
        self.clock = Clock()
        self.app = create_app(
            SimulatorConfig(seed=1, clock=self.clock, pump_interval_seconds=None, **options)
        )
        self.client = SimClient(self.app, api_key=None)

    def token(self, secret: str = SECRET) -> httpx.Response:
        return self.client.request(
            "POST",
            "/token-based-authentication/exchange",
            json_body={"client_id": "innsync-sim-client", "client_secret": secret},
        )

    def bearer(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token().json()['jwt']}"}

    def post_xml(
        self, path_: str, body: bytes, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return self.client.request("POST", path_, content=body, headers=headers or self.bearer())


@pytest.fixture
def sim() -> Sim:
    return Sim()


def avail(start: str, end: str, room: str = "123456701", units: int = 3) -> bytes:
    return (
        f'<?xml version="1.0"?><OTA_HotelAvailNotifRQ xmlns="{NS}" Version="1.0">'
        f'<AvailStatusMessages HotelCode="1234567"><AvailStatusMessage BookingLimit="{units}">'
        f'<StatusApplicationControl Start="{start}" End="{end}" InvTypeCode="{room}"/>'
        "</AvailStatusMessage></AvailStatusMessages></OTA_HotelAvailNotifRQ>"
    ).encode()


def held(sim: Sim) -> dict[str, Any]:
    data: dict[str, Any] = sim.client.get("/_sim/ari").json()["data"].get("1234567", {})
    return data.get("availability", {})


def test_tokens_need_the_secret_expire_after_an_hour_and_stop_at_30_an_hour(sim: Sim) -> None:
    assert sim.token("wrong").status_code == 401
    headers = sim.bearer()
    assert (
        sim.post_xml(
            "/hotels/ota/OTA_HotelAvailNotif", avail("2030-01-08", "2030-01-08"), headers
        ).status_code
        == 200
    )
    sim.clock.advance(3600)
    refused = sim.post_xml(
        "/hotels/ota/OTA_HotelAvailNotif", avail("2030-01-08", "2030-01-08"), headers
    )
    assert refused.status_code == 401
    assert opentravel_2015a().errors(parse_xml(refused.content)) == []
    # The first token is an hour old now: 30 more fit in the hour, the 31st does not.
    for _ in range(30):
        assert sim.token().status_code == 200
    assert sim.token().status_code == 429
    sim.clock.advance(3600)
    assert sim.token().status_code == 200


def test_a_date_more_than_a_day_back_refuses_the_whole_request(sim: Sim) -> None:
    answer = sim.post_xml("/hotels/ota/OTA_HotelAvailNotif", avail("2030-01-05", "2030-01-09"))
    root = parse_xml(answer.content)
    (error,) = path(root, "Errors", "Error")
    assert attribute(error, "ShortText") == "NOT_A_VALID_DATE"
    assert held(sim) == {}
    # One day back (CET) is still taken.
    answer = sim.post_xml("/hotels/ota/OTA_HotelAvailNotif", avail("2030-01-06", "2030-01-06"))
    assert child(parse_xml(answer.content), "Success") is not None
    assert held(sim) == {"123456701": {"2030-01-06": 3}}


def test_schema_invalid_malformed_and_doctype_bodies_are_refused_with_400(sim: Sim) -> None:
    invalid = avail("2030-01-08", "2030-01-08").replace(b' Version="1.0"', b"")
    for body in (
        invalid,
        b"<not-xml",
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>',
    ):
        answer = sim.post_xml("/hotels/ota/OTA_HotelAvailNotif", body)
        assert answer.status_code == 400
        assert opentravel_2015a().errors(parse_xml(answer.content)) == []
    assert held(sim) == {}
    assert sim.client.get("/_sim/counters").json()["schema_failures"] == 1


def test_unknown_rooms_are_warned_by_rph_and_the_rest_applies(sim: Sim) -> None:
    body = (
        f'<?xml version="1.0"?><OTA_HotelAvailNotifRQ xmlns="{NS}" Version="1.0">'
        '<AvailStatusMessages HotelCode="1234567">'
        '<AvailStatusMessage BookingLimit="2"><StatusApplicationControl Start="2030-01-08" '
        'End="2030-01-08" InvTypeCode="nope"/></AvailStatusMessage>'
        '<AvailStatusMessage BookingLimit="5"><StatusApplicationControl Start="2030-01-08" '
        'End="2030-01-08" InvTypeCode="123456702"/></AvailStatusMessage>'
        "</AvailStatusMessages></OTA_HotelAvailNotifRQ>"
    ).encode()
    root = parse_xml(sim.post_xml("/hotels/ota/OTA_HotelAvailNotif", body).content)
    (warning,) = path(root, "Warnings", "Warning")
    assert attribute(warning, "RPH") == "1"
    assert held(sim) == {"123456702": {"2030-01-08": 5}}


def test_an_unacknowledged_reservation_falls_back_to_email_after_30_minutes(sim: Sim) -> None:
    made = sim.client.post("/_sim/reservations/generate", {"count": 2}).json()["data"]
    first, second = (entry["reservation_id"] for entry in made)
    headers = sim.bearer()
    pulled = sim.client.request("GET", "/hotels/ota/OTA_HotelResNotif", headers=headers)
    assert opentravel_2015a().errors(parse_xml(pulled.content)) == []
    ack = (
        f'<?xml version="1.0"?><OTA_HotelResNotifRS xmlns="{NS}" Version="1.0"><Success/>'
        "<HotelReservations><HotelReservation><ResGlobalInfo><HotelReservationIDs>"
        f'<HotelReservationID ResID_Type="14" ResID_Value="{first}"/></HotelReservationIDs>'
        '<BasicPropertyInfo HotelCode="1234567"/></ResGlobalInfo></HotelReservation>'
        "</HotelReservations></OTA_HotelResNotifRS>"
    ).encode()
    assert sim.post_xml("/hotels/ota/OTA_HotelResNotif", ack, headers).status_code == 200
    assert sim.post_xml("/hotels/ota/OTA_HotelResNotif", ack, headers).status_code == 200  # again
    # Acknowledged on the wrong queue: "transaction message of the wrong type".
    wrong = (
        ack.replace(b"OTA_HotelResNotifRS", b"OTA_HotelResModifyNotifRS")
        .replace(b"HotelReservations", b"HotelResModifies")
        .replace(b"HotelReservation>", b"HotelResModify>")
        .replace(b"<HotelReservation>", b"<HotelResModify>")
    )
    assert sim.post_xml("/hotels/ota/OTA_HotelResModifyNotif", wrong, headers).status_code == 400

    sim.clock.advance(29 * 60)
    assert sim.client.post("/_sim/tick", {}).json() == {"fell_back_to_email": 0}
    sim.clock.advance(60)
    assert sim.client.post("/_sim/tick", {}).json() == {"fell_back_to_email": 1}
    queues = sim.client.get("/_sim/queues").json()
    assert queues["counts"] == {"acknowledged": 1, "email": 1}
    (fell,) = [e for e in queues["data"] if e["status"] == "email"]
    assert fell["reservation_id"] == second
    pulled = sim.client.request("GET", "/hotels/ota/OTA_HotelResNotif", headers=sim.bearer())
    assert list(path(parse_xml(pulled.content), "HotelReservations", "HotelReservation")) == []
    assert sim.client.get("/_sim/counters").json()["fell_back_to_email"] == 1


def test_the_request_log_keeps_bodies_with_the_secret_and_tokens_masked(sim: Sim) -> None:
    sim.post_xml("/hotels/ota/OTA_HotelAvailNotif", avail("2030-01-08", "2030-01-08"))
    rows = sim.client.get("/_sim/requests", params={"bodies": "1"}).json()["data"]
    exchange, push = rows
    assert SECRET not in exchange["body"]
    assert "OTA_HotelAvailNotifRQ" in push["body"]
    assert (exchange["endpoint"], push["endpoint"]) == ("token", "ari")
    assert all("Bearer ey" not in str(row["headers"]) for row in rows)


def test_ari_calls_past_the_minute_limit_are_refused_with_429() -> None:
    sim = Sim(ari_calls_per_minute=2)
    headers = sim.bearer()
    statuses = [
        sim.post_xml(
            "/hotels/ota/OTA_HotelAvailNotif", avail("2030-01-08", "2030-01-08"), headers
        ).status_code
        for _ in range(3)
    ]
    assert statuses == [200, 200, 429]
    sim.clock.advance(60)
    assert (
        sim.post_xml(
            "/hotels/ota/OTA_HotelAvailNotif", avail("2030-01-08", "2030-01-08"), headers
        ).status_code
        == 200
    )

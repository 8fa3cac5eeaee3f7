"""The fake channel's webhook format and the checks every channel revision passes."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import SecretStr

from innsync.channels.contract import ReceivesWebhooks
from innsync.channels.errors import BadSignatureError, ChannelRejectedError
from innsync.channels.fake import FakeChannel, FakeChannelConfig
from innsync.channels.types import BookedRoom, BookingRevision, GuestDetails
from innsync.reservations.revision_checks import InvalidRevisionError, check_revision
from tests.inbound.builders import SECRET, booking, encode, headers

CHANNEL = FakeChannel(FakeChannelConfig(webhook_secret=SecretStr(SECRET)))


def parse(body: bytes) -> BookingRevision:
    (revision,) = asyncio.run(CHANNEL.parse_webhook({}, body))
    return revision


def test_the_fake_channel_receives_webhooks() -> None:
    assert isinstance(CHANNEL, ReceivesWebhooks)
    CHANNEL.verify_webhook(headers(), b"{}")
    CHANNEL.verify_webhook({"X-Innsync-Fake-Secret": SECRET}, b"{}")  # any header case


@pytest.mark.parametrize(
    ("channel", "sent"),
    [
        (CHANNEL, headers("wrong")),
        (CHANNEL, {}),
        (FakeChannel(), headers()),  # no secret configured: nothing can be verified
    ],
)
def test_verification_fails_without_the_secret(channel: FakeChannel, sent: dict[str, str]) -> None:
    with pytest.raises(BadSignatureError):
        channel.verify_webhook(sent, b"{}")


def test_the_secret_is_stored_with_the_config_and_masked_elsewhere() -> None:
    config = FakeChannelConfig(webhook_secret=SecretStr(SECRET))
    assert json.loads(config.model_dump_json())["webhook_secret"] == SECRET
    assert SECRET not in repr(config)
    assert FakeChannelConfig.model_validate_json(config.model_dump_json()) == config


def test_a_body_becomes_a_neutral_revision() -> None:
    body = booking("B1", 2, "modified", rooms=["DBL", "TWN"]) | {"unknown": "ignored"}
    body["rooms"][1].pop("rate_plan")
    body["rooms"][1]["children"] = 1
    revision = parse(encode(body))
    assert revision == BookingRevision(
        channel_booking_id="B1",
        revision_id="B1-2",
        status="modified",
        arrival=date(2030, 6, 1),
        departure=date(2030, 6, 3),
        rooms=(
            BookedRoom("DBL", "DBL-BAR", 2, _prices()),
            BookedRoom("TWN", None, 2, _prices(), children=1),
        ),
        guest=GuestDetails("Ada Lovelace", "ada@example.com", None),
        total_amount=Decimal("400.00"),
        currency="EUR",
        received_at=datetime(2030, 1, 1, 9, 2, tzinfo=UTC),
    )


def _prices() -> tuple[tuple[date, Decimal], ...]:
    return ((date(2030, 6, 1), Decimal("100.00")), (date(2030, 6, 2), Decimal("100.00")))


def test_a_cancellation_may_omit_guest_and_rooms() -> None:
    body = booking("B1", 3, "cancelled")
    del body["guest"], body["rooms"]
    revision = parse(encode(body))
    assert (revision.status, revision.rooms, revision.guest) == ("cancelled", (), GuestDetails())


def _room(**changes: Any) -> dict[str, Any]:
    body = booking("B1")
    body["rooms"][0].update(changes)
    return body


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"\xff", "not JSON"),
        (b"[" * 100_000, "not JSON"),
        (encode(booking("B1") | {"rooms": {}}), "rooms must be a list"),
        (encode(booking("B1") | {"guest": []}), "guest must be a JSON object"),
        (encode(booking("B1") | {"guest": {"name": 5}}), "guest name must be a string"),
        (encode(booking("B1") | {"booking_id": ""}), "booking_id must be a non-empty string"),
        (encode(booking("B1") | {"arrival": "June"}), "Invalid isoformat"),
        (encode(booking("B1") | {"total": 12}), "total must be a decimal string"),
        (encode(booking("B1") | {"total": "twelve"}), "total must be a decimal string"),
        (encode(booking("B1") | {"total": "NaN"}), "total must be a finite amount"),
        (encode(booking("B1") | {"revised_at": "0001-01-01T00:00:00+05:00"}), "out of range"),
        (encode(_room(occupancy=True)), "occupancy must be an integer"),
        (encode(_room(children=3)), "children are counted in the occupancy"),
        (encode(_room(rate_plan="")), "rate_plan must be a non-empty string"),
        (encode(_room(prices={"2031-01-01": "1"})), "nightly prices must fall between"),
        (encode(booking("B1", rooms=[])), "needs at least one room"),
    ],
)
def test_a_body_that_is_no_booking_is_refused_with_the_reason(body: bytes, problem: str) -> None:
    with pytest.raises(ChannelRejectedError, match=problem):
        parse(body)


def _big_prices() -> tuple[tuple[date, Decimal], ...]:
    return ((date(2030, 6, 1), Decimal("9999999999")), (date(2030, 6, 2), Decimal("1")))


VALID = parse(encode(booking("B1")))
ROOM = VALID.rooms[0]


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"channel_booking_id": "x" * 129}, "booking id must be printable text"),
        ({"revision_id": "R\n1"}, "revision id must be printable text"),
        ({"received_at": datetime(1999, 12, 31, tzinfo=UTC)}, "not a plausible date"),
        ({"arrival": date(1999, 12, 31)}, "the stay must lie between"),
        ({"departure": date(2200, 1, 1)}, "the stay must lie between"),
        ({"departure": date(2031, 6, 2)}, "a stay of 366 nights exceeds 365"),
        ({"rooms": (ROOM,) * 101}, "101 rooms exceed 100"),
        ({"total_amount": Decimal("1e10")}, "the total exceeds"),
        ({"rooms": (dataclasses.replace(ROOM, room_type_code="D\x00"),)}, "codes must be"),
        ({"rooms": (dataclasses.replace(ROOM, rate_plan_code="x" * 129),)}, "codes must be"),
        ({"rooms": (dataclasses.replace(ROOM, occupancy=101),)}, "occupancy exceeds 100"),
        (
            {"rooms": (dataclasses.replace(ROOM, nightly_prices=_big_prices()),)},
            "the price exceeds",
        ),
    ],
)
def test_revisions_no_booking_can_have_are_refused(changes: dict[str, Any], problem: str) -> None:
    check_revision(VALID)
    with pytest.raises(InvalidRevisionError, match=problem):
        check_revision(dataclasses.replace(VALID, **changes))

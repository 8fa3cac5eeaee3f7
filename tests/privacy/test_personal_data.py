"""Personal data at rest: encrypted in every table that holds it, read back in clear, searched
through keyed hashes, re-encrypted by key rotation, and erased on request (GDPR) while the
booking facts stay."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from innsync.crypto import SecretBox, generate_key
from innsync.db.personal import (
    HASH_PURPOSE,
    EncryptedBytes,
    EncryptedJSON,
    EncryptedText,
    install_keys,
)
from innsync.events.models import Event
from innsync.inbox.models import InboxItem
from innsync.reservations.models import Guest, Reservation, ReservationChange
from innsync.rotation import rotate_secrets
from innsync.schema import metadata
from innsync.sync.models import SyncLogEntry
from innsync.tenants.service import issue_key
from tests.api.helpers import day, make_hotel, new_tenant, ok
from tests.conftest import Db
from tests.inbound.builders import Hotel, Processing, booking, encode, reservations_of
from tests.inbound.builders import make_hotel as make_channel_hotel

# Every table that holds personal data, and what a raw read of it must never show.
TABLES = (
    "guests",
    "reservations",
    "reservation_changes",
    "reservation_conflicts",
    "events",
    "inbox_items",
    "sync_log",
)
NEEDLES = ("Lovelace", "ada@example.com", "window seat", "booking_id")


def clear_text_in(db: Db, needles: tuple[str, ...] = NEEDLES) -> dict[str, list[str]]:
    """``{table: [needle, ...]}`` for every needle a raw SELECT of the table shows."""
    found: dict[str, list[str]] = {}
    for table in TABLES:
        for row in db.connection.exec_driver_sql(f"SELECT * FROM {table}"):
            dump = " ".join(_as_text(value) for value in row).casefold()
            hits = [n for n in needles if n.casefold() in dump]
            if hits:
                found.setdefault(table, []).extend(hits)
    return found


def _as_text(value: Any) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


@pytest.fixture
def channel_hotel(db: Db, secret_box: SecretBox) -> tuple[Processing, Hotel, str]:
    """A hotel with a fake-channel connection, one booking of Ada Lovelace taken in and
    modified, and an admin key of its tenant."""
    with db.sessions() as session:
        hotel = make_channel_hotel(session, secret_box)
        key = issue_key(session, hotel.tenant_id, "pms", ["admin"]).secret
        session.add(
            SyncLogEntry(
                connection_id=hotel.connections[0],
                kind="booking",
                entries=1,
                request_bytes=10,
                outcome="rejected",
                detail="refused: guest Ada Lovelace <ada@example.com> already booked",
                duration_ms=5,
            )
        )
        session.commit()
    processing = Processing(db.sessions, secret_box)
    assert processing.deliver(hotel.tokens[0], encode(booking("B1"))) == "stored"
    assert processing.deliver(hotel.tokens[0], encode(booking("B1", 2, "modified"))) == "stored"
    assert processing.run() == 2
    return processing, hotel, key


def _only_reservation(db: Db, hotel: Hotel) -> Reservation:
    with db.sessions() as session:
        (reservation,) = reservations_of(session, hotel.property_id)
        return reservation


def _noted_reservation(
    client: TestClient, db: Db, hotel: Hotel, headers: dict[str, str]
) -> Reservation:
    """The hotel's reservation, given a note by the PMS (free text: personal)."""
    reservation = _only_reservation(db, hotel)
    ok(
        client.patch(
            f"/api/v1/reservations/{reservation.id}",
            json={"notes": "wants a window seat"},
            headers=headers,
        )
    )
    return reservation


def test_raw_tables_hold_no_clear_personal_data_and_the_api_reads_it(
    client: TestClient, db: Db, channel_hotel: tuple[Processing, Hotel, str]
) -> None:
    _, hotel, key = channel_hotel
    headers = {"Authorization": f"Bearer {key}"}
    reservation = _noted_reservation(client, db, hotel, headers)

    assert clear_text_in(db) == {}
    read = ok(client.get(f"/api/v1/reservations/{reservation.id}", headers=headers))
    assert (read["guest"]["first_name"], read["guest"]["last_name"]) == ("Ada", "Lovelace")
    assert read["guest"]["email"] == "ada@example.com"
    assert read["notes"] == "wants a window seat"
    changes = ok(client.get(f"/api/v1/reservations/{reservation.id}/changes", headers=headers))
    assert changes[-1]["changes"]["notes"] == ["", "wants a window seat"]
    with db.sessions() as session:
        bodies = [i.body for i in session.scalars(select(InboxItem).order_by(InboxItem.id))]
        assert [b'"booking_id": "B1"' in body for body in bodies] == [True, True]
        payloads = session.scalars(select(Event.payload).order_by(Event.id)).all()
        assert payloads[-1]["notes"] == "wants a window seat"


def test_reservations_are_found_by_guest_email_and_name(client: TestClient, db: Db) -> None:
    hotel = make_hotel(client, new_tenant(db.sessions), units=3)
    guests = [
        {"first_name": "Ada", "last_name": "Lovelace", "email": "Ada@Example.com"},
        {"first_name": "Charles", "last_name": "Babbage", "email": "charles@example.com"},
    ]
    made = [
        ok(
            client.post(
                f"/api/v1/properties/{hotel.property_id}/reservations",
                json={
                    "arrival": day(3 + n),
                    "departure": day(5 + n),
                    "rooms": [
                        {
                            "room_type_id": hotel.room_type_id,
                            "rate_plan_id": hotel.rate_plan_id,
                            "adults": 1,
                        }
                    ],
                    "guest": guest,
                },
                headers=hotel.caller.headers,
            ),
            201,
        )
        for n, guest in enumerate(guests)
    ]

    def found(**params: str) -> list[str]:
        page = ok(
            client.get(
                f"/api/v1/properties/{hotel.property_id}/reservations",
                params=params,
                headers=hotel.caller.headers,
            )
        )
        return [item["id"] for item in page["items"]]

    assert found(guest_email="ada@example.com") == [made[0]["id"]]
    assert found(guest_email=" ADA@example.COM ") == [made[0]["id"]]
    assert found(guest_name="charles  BABBAGE") == [made[1]["id"]]
    assert found(guest_email="ada@example.org") == []
    assert found(guest_email="not an address") == []
    assert found(guest_name="Ada") == []
    assert clear_text_in(db, ("Lovelace", "ada@example.com", "babbage")) == {}


def test_erasing_a_guest_removes_their_data_everywhere_and_keeps_the_booking(
    client: TestClient, db: Db, channel_hotel: tuple[Processing, Hotel, str]
) -> None:
    _, hotel, key = channel_hotel
    headers = {"Authorization": f"Bearer {key}"}
    reservation = _noted_reservation(client, db, hotel, headers)
    before = ok(client.get(f"/api/v1/reservations/{reservation.id}", headers=headers))

    report = ok(client.post(f"/api/v1/reservations/{reservation.id}/erase-guest", headers=headers))

    assert report["reservation_ids"] == [str(reservation.id)]
    assert (report["inbox_items"], report["inbox_items_pending"]) == (2, 0)
    assert (report["changes"], report["events"], report["sync_log_entries"]) == (2, 2, 1)
    after = ok(client.get(f"/api/v1/reservations/{reservation.id}", headers=headers))
    facts = ("status", "arrival", "departure", "total_amount", "channel_booking_id", "rooms")
    assert {k: after[k] for k in facts} == {k: before[k] for k in facts}
    assert after["notes"] == ""
    assert {k: v for k, v in after["guest"].items() if k != "id"} == {
        "first_name": "",
        "last_name": "",
        "email": None,
        "phone": None,
        "country": None,
        "address": None,
        "city": None,
        "postal_code": None,
        "language": None,
    }
    with db.sessions() as session:
        decrypted = " ".join(
            [
                *(
                    repr(c.changes) + repr(c.snapshot)
                    for c in session.scalars(select(ReservationChange))
                ),
                *(repr(e.payload) for e in session.scalars(select(Event))),
                *(i.body.decode() for i in session.scalars(select(InboxItem))),
                *(e.detail for e in session.scalars(select(SyncLogEntry))),
            ]
        )
        guest = session.get_one(Guest, reservation.guest_id)
        assert (guest.email_hash, guest.name_hash, guest.erased_at is not None) == (
            None,
            None,
            True,
        )
    for needle in ("Ada", "Lovelace", "ada@example.com", "window seat"):
        assert needle not in decrypted
    changes = ok(client.get(f"/api/v1/reservations/{reservation.id}/changes", headers=headers))
    assert (changes[-1]["action"], changes[-1]["changes"]) == ("guest_erased", {"guest": "erased"})
    assert changes[-1]["origin"].startswith("api:")
    page = ok(
        client.get(
            f"/api/v1/properties/{hotel.property_id}/reservations",
            params={"guest_email": "ada@example.com"},
            headers=headers,
        )
    )
    assert page["items"] == []
    assert clear_text_in(db) == {}


def test_erasing_one_guest_leaves_other_guests_and_bookings_alone(
    client: TestClient, db: Db, channel_hotel: tuple[Processing, Hotel, str]
) -> None:
    processing, hotel, key = channel_hotel
    headers = {"Authorization": f"Bearer {key}"}
    reservation = _only_reservation(db, hotel)
    # Another guest's booking whose id starts with the erased one's.
    other = encode(booking("B10", guest="Grace Hopper"))
    assert processing.deliver(hotel.tokens[0], other) == "stored"
    assert processing.run() == 1

    report = ok(client.post(f"/api/v1/reservations/{reservation.id}/erase-guest", headers=headers))

    assert report["inbox_items"] == 2
    with db.sessions() as session:
        bodies = [i.body for i in session.scalars(select(InboxItem).order_by(InboxItem.id))]
        assert bodies == [b"", b"", other]
        (kept,) = [r for r in reservations_of(session, hotel.property_id) if r.id != reservation.id]
        grace = session.get_one(Guest, kept.guest_id)
        assert (grace.first_name, grace.last_name, grace.email) == (
            "Grace",
            "Hopper",
            "grace@example.com",
        )
        assert grace.erased_at is None


def test_erasing_by_email_and_unknown_guests(
    client: TestClient, db: Db, channel_hotel: tuple[Processing, Hotel, str]
) -> None:
    _, hotel, key = channel_hotel
    headers = {"Authorization": f"Bearer {key}"}
    reservation = _only_reservation(db, hotel)

    missing = client.post(
        "/api/v1/guests/erase", json={"email": "nobody@example.com"}, headers=headers
    )
    assert missing.status_code == 404
    assert client.post("/api/v1/guests/erase", json={}, headers=headers).status_code == 422
    with db.sessions() as session:
        assert session.get_one(Guest, reservation.guest_id).last_name == "Lovelace"

    report = ok(
        client.post("/api/v1/guests/erase", json={"email": "ADA@example.com"}, headers=headers)
    )
    assert report["reservation_ids"] == [str(reservation.id)]
    assert report["guest_id"] == str(reservation.guest_id)
    with db.sessions() as session:
        assert session.get_one(Guest, reservation.guest_id).last_name == ""


def test_rotation_reencrypts_personal_data_and_rehashes(
    db: Db, secret_box: SecretBox, channel_hotel: tuple[Processing, Hotel, str]
) -> None:
    _, hotel, _ = channel_hotel
    reservation = _only_reservation(db, hotel)
    new_key = generate_key()
    rotated_box = SecretBox([new_key, *_keys_of(secret_box)])
    newest_only = SecretBox([new_key])
    sealed = _sealed_values(db)
    assert sealed > 10
    try:
        with db.sessions() as session:
            count = rotate_secrets(session, rotated_box)
            session.commit()
        # Every encrypted value once, and the connection's config.
        assert count == sealed + 1
        first_name, email_hash = db.connection.execute(
            text("SELECT first_name, email_hash FROM guests WHERE id = :id"),
            {"id": _raw_id(db, reservation.guest_id)},
        ).one()
        assert newest_only.decrypt_bytes(str(first_name).encode()) == b"Ada"
        index_key = newest_only.derived_keys(HASH_PURPOSE)[0]
        assert email_hash == hmac.new(index_key, b"ada@example.com", hashlib.sha256).hexdigest()
        for (body,) in db.connection.exec_driver_sql("SELECT body FROM inbox_items"):
            assert b"B1" in newest_only.decrypt_bytes(bytes(body))
        with db.sessions() as session:
            assert session.get_one(Guest, reservation.guest_id).last_name == "Lovelace"
    finally:
        install_keys(secret_box)


def _sealed_values(db: Db) -> int:
    """How many encrypted (non-null) personal values the database holds."""
    total = 0
    for table in metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, EncryptedText | EncryptedJSON | EncryptedBytes):
                total += db.connection.execute(select(func.count(column))).scalar_one()
    return total


def _keys_of(box: SecretBox) -> list[str]:
    return list(box._keys)


def _raw_id(db: Db, guest_id: uuid.UUID | None) -> Any:
    """The id as the database stores it (SQLite and MariaDB keep UUIDs as 32 hex digits)."""
    assert guest_id is not None
    return guest_id if db.name == "postgresql" else guest_id.hex


def test_items_not_yet_applied_are_left_for_processing_and_counted(
    client: TestClient, db: Db, channel_hotel: tuple[Processing, Hotel, str]
) -> None:
    processing, hotel, key = channel_hotel
    headers = {"Authorization": f"Bearer {key}"}
    reservation = _only_reservation(db, hotel)
    cancellation = encode(booking("B1", 3, "cancelled"))
    assert processing.deliver(hotel.tokens[0], cancellation) == "stored"

    report = ok(client.post(f"/api/v1/reservations/{reservation.id}/erase-guest", headers=headers))

    assert (report["inbox_items"], report["inbox_items_pending"]) == (2, 1)
    with db.sessions() as session:
        bodies = [i.body for i in session.scalars(select(InboxItem).order_by(InboxItem.id))]
        assert bodies == [b"", b"", cancellation]
    # The cancellation still lands: erasing never loses a booking revision.
    assert processing.run() == 1
    after = ok(client.get(f"/api/v1/reservations/{reservation.id}", headers=headers))
    assert after["status"] == "cancelled"

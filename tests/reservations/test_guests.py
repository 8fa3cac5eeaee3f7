"""Guests: matched by normalized email, then E.164 phone; merged with the newest non-empty
values, keeping the id (and so every reservation that points to it)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from innsync.db.personal import personal_hash
from innsync.reservations.guests import match_or_create_guest
from innsync.reservations.models import Guest
from innsync.reservations.schemas import GuestIn
from innsync.tenants.service import create_tenant

T0 = datetime(2030, 1, 1, 9, tzinfo=UTC)


def _tenant(session: Session) -> uuid.UUID:
    tenant, _ = create_tenant(session, f"Group {uuid.uuid4().hex[:8]}")
    return tenant.id


def _guests(session: Session, tenant_id: uuid.UUID) -> int:
    return session.scalar(select(func.count()).where(Guest.tenant_id == tenant_id)) or 0


def test_email_then_phone_match_keeps_the_id_and_merges(session: Session) -> None:
    tenant_id = _tenant(session)
    first = match_or_create_guest(
        session, tenant_id, GuestIn(first_name="Ada", email=" Ada@Example.com "), T0
    )
    assert first is not None
    same = match_or_create_guest(
        session,
        tenant_id,
        GuestIn(last_name="Lovelace", email="ada@example.COM", phone="+44 20 7946 0018"),
        T0 + timedelta(minutes=1),
    )
    by_phone = match_or_create_guest(
        session,
        tenant_id,
        GuestIn(first_name="Augusta", phone="020 7946 0018", country="GB"),
        T0 + timedelta(minutes=2),
    )
    assert same is first
    assert by_phone is first
    assert (first.first_name, first.last_name, first.email_hash, first.phone_hash) == (
        "Augusta",
        "Lovelace",
        personal_hash("ada@example.com"),
        personal_hash("+442079460018"),
    )
    assert first.details_at == T0 + timedelta(minutes=2)
    assert _guests(session, tenant_id) == 1


def test_older_details_only_fill_empty_fields(session: Session) -> None:
    tenant_id = _tenant(session)
    guest = match_or_create_guest(
        session, tenant_id, GuestIn(first_name="Ada", email="ada@example.com"), T0
    )
    older = match_or_create_guest(
        session,
        tenant_id,
        GuestIn(first_name="A.", last_name="Lovelace", email="ada@example.com"),
        T0 - timedelta(days=1),
    )
    assert older is guest
    assert (guest.first_name, guest.last_name, guest.details_at) == ("Ada", "Lovelace", T0)


def test_no_match_creates_a_guest_and_nothing_to_match_creates_none(session: Session) -> None:
    tenant_id = _tenant(session)
    match_or_create_guest(session, tenant_id, GuestIn(email="ada@example.com"), T0)
    other = match_or_create_guest(session, tenant_id, GuestIn(email="grace@example.com"), T0)
    assert other is not None
    assert other.email == "grace@example.com"
    assert match_or_create_guest(session, tenant_id, GuestIn(), T0) is None
    elsewhere = _tenant(session)
    assert match_or_create_guest(session, elsewhere, GuestIn(email="ada@example.com"), T0)
    assert (_guests(session, tenant_id), _guests(session, elsewhere)) == (2, 1)

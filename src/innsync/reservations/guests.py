"""Guest matching: by normalized email, then by E.164 phone, else a new guest."""

from __future__ import annotations

import uuid

import phonenumbers
from sqlalchemy import select
from sqlalchemy.orm import Session

from innsync.reservations.models import Guest
from innsync.reservations.schemas import GuestIn


def normalize_email(email: str | None) -> str | None:
    if not email or "@" not in email:
        return None
    return email.strip().lower()


def normalize_phone(phone: str | None, country: str | None = None) -> str | None:
    """E.164, or None when the number cannot be understood (it is still kept as given)."""
    if not phone:
        return None
    try:
        parsed = phonenumbers.parse(phone, country)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))


def match_or_create_guest(session: Session, tenant_id: uuid.UUID, data: GuestIn) -> Guest | None:
    """The tenant's guest this data describes, updated with its newest non-empty values."""
    email = normalize_email(data.email)
    phone = normalize_phone(data.phone, data.country)
    if not (email or phone or data.first_name or data.last_name):
        return None
    guest = None
    if email:
        guest = session.scalar(
            select(Guest)
            .where(Guest.tenant_id == tenant_id, Guest.email_normalized == email)
            .limit(1)
        )
    if guest is None and phone:
        guest = session.scalar(
            select(Guest).where(Guest.tenant_id == tenant_id, Guest.phone_e164 == phone).limit(1)
        )
    if guest is None:
        guest = Guest(tenant_id=tenant_id)
        session.add(guest)
    for name, value in (
        ("first_name", data.first_name),
        ("last_name", data.last_name),
        ("email", data.email),
        ("email_normalized", email),
        ("phone", data.phone),
        ("phone_e164", phone),
        ("country", data.country),
    ):
        if value:
            setattr(guest, name, value)
    session.flush()
    return guest

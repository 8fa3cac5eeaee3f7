"""Guest matching: by normalized email, then by E.164 phone, else a new guest.

Both are compared through keyed hashes (``Guest.email_hash``, ``phone_hash``): the details
themselves are encrypted at rest.

A matched guest keeps its id, so every reservation that points to it stays its history. Its
details are merged: non-empty values replace stored ones when they are at least as new as the
newest details merged so far (``Guest.details_at``); older details (a channel revision made
before another booking's, delivered later) only fill fields that are still empty.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import phonenumbers
from sqlalchemy import select
from sqlalchemy.orm import Session

from innsync.db.base import utcnow
from innsync.db.personal import personal_hash, personal_hashes
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


def normalize_name(first_name: str | None, last_name: str | None) -> str | None:
    """ "first last", case-folded with single spaces: what a search by full name compares."""
    name = " ".join(f"{first_name or ''} {last_name or ''}".split()).casefold()
    return name or None


def hashes_of(value: str | None) -> list[str]:
    """The keyed hashes a normalized value may be stored under; none for no value."""
    return personal_hashes(value) if value else []


def refresh_hashes(guest: Guest) -> None:
    """The keyed hashes of the guest's current details, under the newest key."""
    email = normalize_email(guest.email)
    phone = normalize_phone(guest.phone, guest.country)
    name = normalize_name(guest.first_name, guest.last_name)
    guest.email_hash = personal_hash(email) if email else None
    guest.phone_hash = personal_hash(phone) if phone else None
    guest.name_hash = personal_hash(name) if name else None


def match_or_create_guest(
    session: Session, tenant_id: uuid.UUID, data: GuestIn, given_at: datetime | None = None
) -> Guest | None:
    """The tenant's guest this data describes, updated with its newest non-empty values.

    ``given_at`` is when the details were given (a channel revision's time); now by default.
    """
    given_at = given_at or utcnow()
    email = normalize_email(data.email)
    phone = normalize_phone(data.phone, data.country)
    if not (email or phone or data.first_name or data.last_name):
        return None
    guest = None
    if email:
        guest = session.scalar(
            select(Guest)
            .where(Guest.tenant_id == tenant_id, Guest.email_hash.in_(hashes_of(email)))
            .limit(1)
        )
    if guest is None and phone:
        guest = session.scalar(
            select(Guest)
            .where(Guest.tenant_id == tenant_id, Guest.phone_hash.in_(hashes_of(phone)))
            .limit(1)
        )
    if guest is None:
        guest = Guest(tenant_id=tenant_id)
        session.add(guest)
    is_newest = guest.details_at is None or given_at >= guest.details_at
    for name, value in (
        ("first_name", data.first_name),
        ("last_name", data.last_name),
        ("email", data.email),
        ("phone", data.phone),
        ("country", data.country),
        ("address", data.address),
        ("city", data.city),
        ("postal_code", data.postal_code),
        ("language", data.language),
    ):
        if value and (is_newest or not getattr(guest, name)):
            setattr(guest, name, value)
    if is_newest:
        guest.details_at = given_at
    guest.erased_at = None  # new details came: they are kept until erased again
    refresh_hashes(guest)
    session.flush()
    return guest

"""Users and sessions at the service level: expiry, disabled users, e-mail rules; fixed times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from innsync.errors import AuthenticationError, ConflictError, InvalidInputError
from innsync.tenants.models import User
from innsync.tenants.service import create_tenant
from innsync.tenants.users import Role, create_user, sign_in, sign_out, signed_in
from tests.admin.hotels import PASSWORD, PASSWORDS

T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def test_a_session_lives_until_it_expires_or_is_revoked(session: Session) -> None:
    tenant, _ = create_tenant(session, "Villa")
    create_user(session, PASSWORDS, tenant.id, "Ana@Villa.example ", PASSWORD, "manager")
    opened = sign_in(session, PASSWORDS, "ana@villa.example", PASSWORD, HOUR, now=T0)
    assert opened.expires_at == T0 + HOUR
    who = signed_in(session, opened.token, now=T0 + HOUR - timedelta(seconds=1))
    assert who is not None
    assert (who.tenant_id, who.email, who.role, who.can_write) == (
        tenant.id,
        "ana@villa.example",
        Role.MANAGER,
        True,
    )
    assert signed_in(session, opened.token, now=T0 + HOUR) is None
    assert signed_in(session, opened.token + "x", now=T0) is None
    sign_out(session, who.session_id, now=T0)
    assert signed_in(session, opened.token, now=T0) is None


def test_disabled_users_cannot_sign_in_and_lose_their_sessions(session: Session) -> None:
    tenant, _ = create_tenant(session, "Villa")
    user = create_user(session, PASSWORDS, tenant.id, "bo@villa.example", PASSWORD, "read_only")
    opened = sign_in(session, PASSWORDS, "bo@villa.example", PASSWORD, HOUR, now=T0)
    user.disabled_at = T0
    session.flush()
    assert signed_in(session, opened.token, now=T0) is None
    with pytest.raises(AuthenticationError):
        sign_in(session, PASSWORDS, "bo@villa.example", PASSWORD, HOUR, now=T0)


def test_e_mail_is_unique_across_tenants(session: Session) -> None:
    first, _ = create_tenant(session, "Villa")
    second, _ = create_tenant(session, "Casa")
    create_user(session, PASSWORDS, first.id, "cy@example.org", PASSWORD, "owner")
    with pytest.raises(ConflictError):
        create_user(session, PASSWORDS, second.id, "CY@example.org", PASSWORD, "owner")
    for email, password, role in (
        ("not-an-address", PASSWORD, "owner"),
        ("dee@example.org", "short", "owner"),
        ("dee@example.org", PASSWORD, "admin"),
    ):
        with pytest.raises(InvalidInputError):
            create_user(session, PASSWORDS, second.id, email, password, role)
    assert session.scalar(select(func.count()).select_from(User)) == 1

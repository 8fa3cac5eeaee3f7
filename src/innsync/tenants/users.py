"""Use-cases for people: create a user, sign in, find a session, sign out.

Passwords are hashed with Argon2id; the cost is the operator's (``Passwords.from_settings``),
by default RFC 9106's low-memory profile (t=3, 64 MiB, p=4).
A session is a random 256-bit token in an HTTP-only cookie; the table keeps only its SHA-256,
so a copy of the database cannot be replayed as a cookie, and a forged token matches no row
(which is what signing a session id would otherwise buy).
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from innsync.crypto import hash_api_key
from innsync.errors import AuthenticationError, ConflictError, InvalidInputError
from innsync.settings import Settings
from innsync.tenants.models import User, UserSession

# Shorter passwords fall to offline guessing even behind Argon2 (NIST SP 800-63B asks for 8+).
MIN_PASSWORD_LENGTH = 12
# argon2's own limit is far higher; this only stops a megabyte "password" costing a hash.
MAX_PASSWORD_LENGTH = 1024


class Passwords:
    """Hashes and verifies passwords at one cost."""

    def __init__(self, time_cost: int = 3, memory_kib: int = 65536, parallelism: int = 4) -> None:
        self.hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism
        )
        # Verified when the e-mail is unknown, so a wrong address costs the same time as a
        # wrong password and the answer's timing does not tell which addresses have accounts.
        self.decoy = _decoy_hash(time_cost, memory_kib, parallelism)

    @classmethod
    def from_settings(cls, settings: Settings) -> Passwords:
        return cls(
            settings.password_hash_time_cost,
            settings.password_hash_memory_kib,
            settings.password_hash_parallelism,
        )


@cache
def _decoy_hash(time_cost: int, memory_kib: int, parallelism: int) -> str:
    """A hash of a random password at one cost, made once per process: a hash costs about
    0.2 s, and every app a process builds (each test's, say) would otherwise pay it again."""
    hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)
    return hasher.hash(secrets.token_urlsafe(16))


class Role(StrEnum):
    """What a user may do: owners and managers change things, read-only users only look."""

    OWNER = "owner"
    MANAGER = "manager"
    READ_ONLY = "read_only"


ROLES = tuple(Role)


@dataclass(frozen=True, slots=True)
class SignedIn:
    """The user behind a session: the tenant every page is scoped to, and the role."""

    session_id: uuid.UUID
    user_id: uuid.UUID
    tenant_id: uuid.UUID
    email: str
    role: Role
    csrf_token: str

    @property
    def can_write(self) -> bool:
        return self.role is not Role.READ_ONLY


@dataclass(frozen=True, slots=True)
class NewSession:
    """A session just opened: ``token`` goes into the cookie and is never stored."""

    token: str
    expires_at: datetime


def normalize_email(email: str) -> str:
    cleaned = email.strip().lower()
    local, _, domain = cleaned.partition("@")
    if not local or "." not in domain or len(cleaned) > 254 or any(c.isspace() for c in cleaned):
        raise InvalidInputError(f"{email!r} is not an e-mail address")
    return cleaned


def create_user(
    session: Session,
    passwords: Passwords,
    tenant_id: uuid.UUID,
    email: str,
    password: str,
    role: str,
) -> User:
    """A user of the tenant; the e-mail must be new across all tenants."""
    if role not in ROLES:
        raise InvalidInputError(f"role must be one of {', '.join(ROLES)}; got {role!r}")
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise InvalidInputError(
            f"a password needs {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters"
        )
    address = normalize_email(email)
    if session.scalar(select(User.id).where(User.email == address)) is not None:
        raise ConflictError(f"a user with e-mail {address} exists")
    user = User(
        tenant_id=tenant_id, email=address, password_hash=passwords.hasher.hash(password), role=role
    )
    session.add(user)
    session.flush()
    return user


def sign_in(
    session: Session,
    passwords: Passwords,
    email: str,
    password: str,
    lifetime: timedelta,
    now: datetime | None = None,
) -> NewSession:
    """Open a session for the right e-mail and password; one message whatever was wrong."""
    failure = AuthenticationError("wrong e-mail or password")
    now = now or datetime.now(UTC)
    try:
        address = normalize_email(email)
    except InvalidInputError:
        address = ""
    user = session.scalar(select(User).where(User.email == address)) if address else None
    candidate = password[:MAX_PASSWORD_LENGTH]
    try:
        passwords.hasher.verify(user.password_hash if user else passwords.decoy, candidate)
    except (VerificationError, InvalidHashError):
        raise failure from None
    if user is None or user.disabled_at is not None:
        raise failure
    if passwords.hasher.check_needs_rehash(user.password_hash):
        user.password_hash = passwords.hasher.hash(candidate)  # the operator raised the cost
    user.last_login_at = now
    # The user's ended sessions go now, so the table holds only live ones (plus, per user,
    # those that ended since their last sign-in) without a clean-up job.
    session.execute(
        delete(UserSession).where(
            UserSession.user_id == user.id,
            or_(UserSession.expires_at <= now, UserSession.revoked_at.is_not(None)),
        )
    )
    token = secrets.token_urlsafe(32)
    expires_at = now + lifetime
    session.add(
        UserSession(
            user_id=user.id,
            tenant_id=user.tenant_id,
            token_hash=hash_api_key(token),
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            expires_at=expires_at,
        )
    )
    session.flush()
    return NewSession(token=token, expires_at=expires_at)


def signed_in(session: Session, token: str, now: datetime | None = None) -> SignedIn | None:
    """The user of a live session (not expired, not revoked, user not disabled), or None."""
    now = now or datetime.now(UTC)
    row = session.execute(
        select(UserSession, User)
        .join(User, User.id == UserSession.user_id)
        .where(
            UserSession.token_hash == hash_api_key(token),
            UserSession.revoked_at.is_(None),
            UserSession.expires_at > now,
            User.disabled_at.is_(None),
        )
    ).first()
    if row is None:
        return None
    user_session, user = row
    return SignedIn(
        session_id=user_session.id,
        user_id=user.id,
        tenant_id=user.tenant_id,
        email=user.email,
        role=Role(user.role),
        csrf_token=user_session.csrf_token,
    )


def sign_out(session: Session, session_id: uuid.UUID, now: datetime | None = None) -> None:
    """Revoke a session: its cookie is refused from now on, even if a copy survives."""
    session.execute(
        update(UserSession)
        .where(UserSession.id == session_id, UserSession.revoked_at.is_(None))
        .values(revoked_at=now or datetime.now(UTC))
    )

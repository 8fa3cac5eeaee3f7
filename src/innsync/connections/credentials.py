"""Channel-issued credentials kept in the database, encrypted, refreshed once per connection.

The :class:`DatabaseCredentialStore` is the ``CredentialStore`` (``channels.credentials``) the
worker and the API hand each adapter. A token lives in ``channel_credentials`` encrypted with the
connection secrets' ``SecretBox``. "One refresh at a time per connection, across processes" is a
lease on the credential's row, taken with one conditional ``UPDATE`` (free, or expired): it needs
no ``SELECT … FOR UPDATE`` held across the channel call, so it works alike on SQLite, PostgreSQL
and MariaDB, and a process that dies mid-refresh frees the row when its lease runs out. The
holder writes the new token only while it still holds the lease (the fencing check), so a
refresh that outlived its lease cannot overwrite a newer token.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, ForeignKey, String, Text, and_, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from innsync.channels.credentials import Credential, IsStale, Obtain
from innsync.channels.errors import ChannelUnavailableError
from innsync.clock import Clock as WallClock
from innsync.crypto import SecretBox
from innsync.db.base import Base, UtcDateTime, utcnow
from innsync.db.engine import transaction

# Longer than one token call can take (30 s plus connect, as for any channel call), so the
# lease does not run out under a live refresh; short enough that a crashed holder delays the
# others by under a minute.
REFRESH_LEASE = timedelta(seconds=45)
# How often a process waiting for another's refresh looks again; refreshes are rare and take
# about a second, so a quarter second costs nothing and keeps waiters prompt.
WAIT_POLL_SECONDS = 0.25
# A waiter gives up after two leases: by then the holder has died or hangs, and the lease it
# held has expired once, so something is wrong beyond one slow call.
MAX_WAIT = REFRESH_LEASE * 2

Sleep = Callable[[float], Awaitable[None]]


class ChannelCredential(Base):
    """One channel-issued credential of a connection (an access token), encrypted."""

    __tablename__ = "channel_credentials"

    connection_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("connections.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    # JSON of token, refresh token and expiry, encrypted whole; NULL until the first refresh.
    secret_encrypted: Mapped[str | None] = mapped_column(Text, default=None)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    refresh_holder: Mapped[str | None] = mapped_column(String(64), default=None)
    refresh_lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)


class DatabaseCredentialStore:
    """The credentials of one connection, shared by every process on the database."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        box: SecretBox,
        connection_id: uuid.UUID,
        *,
        now: WallClock = utcnow,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._sessions = sessions
        self._box = box
        self._connection_id = connection_id
        self._now = now
        self._sleep = sleep
        # Names this process's leases, so only its own lease is extended, fenced or freed.
        self._holder = uuid.uuid4().hex

    async def load(self, name: str) -> Credential | None:
        with transaction(self._sessions) as session:
            row = session.get(ChannelCredential, (self._connection_id, name))
            return None if row is None else self._decrypt(row)

    async def persist(self, name: str, credential: Credential) -> None:
        self._ensure_row(name)
        with transaction(self._sessions) as session:
            session.execute(
                update(ChannelCredential)
                .where(self._key(name))
                .values(
                    secret_encrypted=self._encrypt(credential),
                    expires_at=credential.expires_at,
                )
            )

    async def refresh(self, name: str, is_stale: IsStale, obtain: Obtain) -> Credential:
        self._ensure_row(name)
        deadline = self._now() + MAX_WAIT
        while True:
            current = await self.load(name)
            if current is not None and not is_stale(current):
                return current
            if self._take_lease(name):
                break
            if self._now() >= deadline:
                raise ChannelUnavailableError(
                    "another process has been refreshing this connection's channel token "
                    f"for over {int(MAX_WAIT.total_seconds())} s"
                )
            await self._sleep(WAIT_POLL_SECONDS)
        try:
            # Someone may have finished a refresh between our read and our lease.
            current = await self.load(name)
            if current is not None and not is_stale(current):
                return current
            renewed = await obtain(current)
            self._store_if_holding(name, renewed)
            return renewed
        finally:
            self._free_lease(name)

    def _ensure_row(self, name: str) -> None:
        """The row the lease lives on; a concurrent creator winning the insert is fine."""
        with transaction(self._sessions) as session:
            if session.get(ChannelCredential, (self._connection_id, name)) is not None:
                return
        try:
            with transaction(self._sessions) as session:
                session.add(ChannelCredential(connection_id=self._connection_id, name=name))
        except IntegrityError:
            return

    def _take_lease(self, name: str) -> bool:
        now = self._now()
        with transaction(self._sessions) as session:
            taken = session.execute(
                update(ChannelCredential)
                .where(
                    self._key(name),
                    or_(
                        ChannelCredential.refresh_lease_until.is_(None),
                        ChannelCredential.refresh_lease_until <= now,
                    ),
                )
                .values(refresh_holder=self._holder, refresh_lease_until=now + REFRESH_LEASE)
                .execution_options(synchronize_session=False)
            )
            return bool(getattr(taken, "rowcount", 0) == 1)

    def _store_if_holding(self, name: str, credential: Credential) -> None:
        with transaction(self._sessions) as session:
            # Matches nothing when the lease ran out under a slow channel: another process may
            # have stored a newer token since, so this one serves the call at hand only.
            session.execute(
                update(ChannelCredential)
                .where(self._key(name), self._held(self._now()))
                .values(
                    secret_encrypted=self._encrypt(credential),
                    expires_at=credential.expires_at,
                )
                .execution_options(synchronize_session=False)
            )

    def _free_lease(self, name: str) -> None:
        with transaction(self._sessions) as session:
            session.execute(
                update(ChannelCredential)
                .where(self._key(name), ChannelCredential.refresh_holder == self._holder)
                .values(refresh_holder=None, refresh_lease_until=None)
                .execution_options(synchronize_session=False)
            )

    def _key(self, name: str) -> ColumnElement[bool]:
        return and_(
            ChannelCredential.connection_id == self._connection_id,
            ChannelCredential.name == name,
        )

    def _held(self, now: datetime) -> ColumnElement[bool]:
        return and_(
            ChannelCredential.refresh_holder == self._holder,
            ChannelCredential.refresh_lease_until > now,
        )

    def _encrypt(self, credential: Credential) -> str:
        return encrypt_credential(self._box, credential)

    def _decrypt(self, row: ChannelCredential) -> Credential | None:
        if row.secret_encrypted is None:
            return None
        stored = json.loads(self._box.decrypt(row.secret_encrypted))
        expires = stored.get("expires_at")
        return Credential(
            token=stored["token"],
            expires_at=None if expires is None else datetime.fromisoformat(expires),
            refresh_token=stored.get("refresh_token"),
        )


def encrypt_credential(box: SecretBox, credential: Credential) -> str:
    """The stored form of a credential: its token, refresh token and expiry, encrypted whole."""
    return box.encrypt(
        json.dumps(
            {
                "token": credential.token,
                "refresh_token": credential.refresh_token,
                "expires_at": None
                if credential.expires_at is None
                else credential.expires_at.isoformat(),
            }
        )
    )


def keep_credentials(
    session: Session,
    box: SecretBox,
    connection_id: uuid.UUID,
    credentials: Mapping[str, Credential],
) -> None:
    """In the caller's transaction: store what a connection test obtained (an invite code is
    single use: the refresh token it gave is the only way in from then on)."""
    for name, credential in credentials.items():
        row = session.get(ChannelCredential, (connection_id, name))
        if row is None:
            row = ChannelCredential(connection_id=connection_id, name=name)
            session.add(row)
        row.secret_encrypted = encrypt_credential(box, credential)
        row.expires_at = credential.expires_at

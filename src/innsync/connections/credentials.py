"""Channel-issued credentials kept in the database, encrypted, refreshed once per connection.

The :class:`DatabaseCredentialStore` is the ``CredentialStore`` (``channels.credentials``) the
worker and the API hand each adapter. A token lives in ``channel_credentials`` encrypted with the
connection secrets' ``SecretBox``. "One refresh at a time per connection, across processes" is a
lease on the credential's row, taken with one conditional ``UPDATE`` (free, or expired): it needs
no ``SELECT … FOR UPDATE`` held across the channel call, so it works alike on SQLite, PostgreSQL
and MariaDB, and a process that dies mid-refresh frees the row when its lease runs out. The
holder writes the new token only while it still holds the lease (the fencing check), so a
refresh that outlived its lease cannot overwrite a newer token.

:class:`DatabaseAccountCredentials` keeps the tokens of channel *accounts* that many connections
share (Booking.com's machine account) in ``channel_account_credentials``, keyed by a digest of
the account key, with the same lease; its ``spend`` counts the channel's issues under the lease,
so the channel's hourly cap holds across every process on the database.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, ForeignKey, Integer, String, Text, and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from innsync.channels.credentials import (
    AccountCredentialStore,
    Credential,
    IsStale,
    Obtain,
    refuse_past_cap,
)
from innsync.channels.errors import ChannelError, ChannelUnavailableError
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


class _LeasedCredential:
    """The columns of a stored credential and of the lease that refreshes it."""

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    # JSON of token, refresh token and expiry, encrypted whole; NULL until the first refresh.
    secret_encrypted: Mapped[str | None] = mapped_column(Text, default=None)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    refresh_holder: Mapped[str | None] = mapped_column(String(64), default=None)
    refresh_lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)
    # Refreshes that failed in a row (the channel refused or did not answer), the last one's
    # time and error; a refresh that succeeds resets them. The ``token_refresh_failing`` alert
    # rule reads them.
    refresh_failures: Mapped[int] = mapped_column(Integer, default=0)
    refresh_failed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    refresh_error: Mapped[str | None] = mapped_column(String(500), default=None)


class ChannelCredential(_LeasedCredential, Base):
    """One channel-issued credential of a connection (an access token), encrypted."""

    __tablename__ = "channel_credentials"

    connection_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("connections.id", ondelete="CASCADE"), primary_key=True
    )


class ChannelAccountCredential(_LeasedCredential, Base):
    """One credential of a channel account several connections share, and its issue count.

    ``account_key`` is a SHA-256 of what the adapter names the account by (for Booking.com the
    machine account's client id), so neither ids nor secrets are readable here. ``issued`` is a
    JSON list of the epoch seconds of recent issues, written under the row's lease.
    """

    __tablename__ = "channel_account_credentials"

    account_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    issued: Mapped[str | None] = mapped_column(Text, default=None)


class _LeasedStore(ABC):
    """Credentials in rows of one table, refreshed under a lease on the row (see the module)."""

    model: type[_LeasedCredential]

    def __init__(
        self,
        sessions: sessionmaker[Session],
        box: SecretBox,
        *,
        now: WallClock = utcnow,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._sessions = sessions
        self._box = box
        self._now = now
        self._sleep = sleep
        # Names this process's leases, so only its own lease is extended, fenced or freed.
        self._holder = uuid.uuid4().hex

    @abstractmethod
    def _key(self, name: str) -> ColumnElement[bool]:
        """Where the row of credential ``name`` is, in :attr:`model`'s table."""

    @abstractmethod
    def _new_row(self, name: str) -> _LeasedCredential:
        """A new, empty row for credential ``name``."""

    def _row(self, session: Session, name: str) -> _LeasedCredential | None:
        found: _LeasedCredential | None = session.scalar(select(self.model).where(self._key(name)))
        return found

    async def load(self, name: str) -> Credential | None:
        with transaction(self._sessions) as session:
            row = self._row(session, name)
            return None if row is None else self._decrypt(row)

    async def persist(self, name: str, credential: Credential) -> None:
        self._ensure_row(name)
        with transaction(self._sessions) as session:
            session.execute(
                update(self.model)
                .where(self._key(name))
                .values(
                    secret_encrypted=self._encrypt(credential),
                    expires_at=credential.expires_at,
                )
                .execution_options(synchronize_session=False)
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
            await self._wait(deadline)
        try:
            # Someone may have finished a refresh between our read and our lease.
            current = await self.load(name)
            if current is not None and not is_stale(current):
                return current
            try:
                renewed = await obtain(current)
            except ChannelError as exc:
                self._record_failure(name, exc)
                raise
            self._store_if_holding(name, renewed)
            return renewed
        finally:
            self._free_lease(name)

    async def _wait(self, deadline: datetime) -> None:
        """Another process holds the lease: look again shortly, or give up past ``deadline``."""
        if self._now() >= deadline:
            raise ChannelUnavailableError(
                "another process has held this channel credential's lease "
                f"for over {int(MAX_WAIT.total_seconds())} s"
            )
        await self._sleep(WAIT_POLL_SECONDS)

    def _ensure_row(self, name: str) -> None:
        """The row the lease lives on; a concurrent creator winning the insert is fine."""
        with transaction(self._sessions) as session:
            if self._row(session, name) is not None:
                return
        try:
            with transaction(self._sessions) as session:
                session.add(self._new_row(name))
        except IntegrityError:
            return

    def _take_lease(self, name: str) -> bool:
        now = self._now()
        model = self.model
        with transaction(self._sessions) as session:
            taken = session.execute(
                update(model)
                .where(
                    self._key(name),
                    or_(model.refresh_lease_until.is_(None), model.refresh_lease_until <= now),
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
                update(self.model)
                .where(self._key(name), self._held(self._now()))
                .values(
                    secret_encrypted=self._encrypt(credential),
                    expires_at=credential.expires_at,
                    refresh_failures=0,
                    refresh_error=None,
                )
                .execution_options(synchronize_session=False)
            )

    def _record_failure(self, name: str, error: ChannelError) -> None:
        """Count a failed refresh on the row (the channel's error, bounded; never a secret:
        adapters' errors carry the channel's answer, not the request)."""
        with transaction(self._sessions) as session:
            session.execute(
                update(self.model)
                .where(self._key(name))
                .values(
                    refresh_failures=self.model.refresh_failures + 1,
                    refresh_failed_at=self._now(),
                    refresh_error=f"{type(error).__name__}: {error}"[:500],
                )
                .execution_options(synchronize_session=False)
            )

    def _free_lease(self, name: str) -> None:
        with transaction(self._sessions) as session:
            session.execute(
                update(self.model)
                .where(self._key(name), self.model.refresh_holder == self._holder)
                .values(refresh_holder=None, refresh_lease_until=None)
                .execution_options(synchronize_session=False)
            )

    def _held(self, now: datetime) -> ColumnElement[bool]:
        return and_(
            self.model.refresh_holder == self._holder,
            self.model.refresh_lease_until > now,
        )

    def _encrypt(self, credential: Credential) -> str:
        return encrypt_credential(self._box, credential)

    def _decrypt(self, row: _LeasedCredential) -> Credential | None:
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
        row.refresh_failures, row.refresh_error = 0, None


class DatabaseCredentialStore(_LeasedStore):
    """The credentials of one connection, shared by every process on the database."""

    model = ChannelCredential

    def __init__(
        self,
        sessions: sessionmaker[Session],
        box: SecretBox,
        connection_id: uuid.UUID,
        *,
        now: WallClock = utcnow,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        super().__init__(sessions, box, now=now, sleep=sleep)
        self._connection_id = connection_id

    def _key(self, name: str) -> ColumnElement[bool]:
        return and_(
            ChannelCredential.connection_id == self._connection_id,
            ChannelCredential.name == name,
        )

    def _new_row(self, name: str) -> ChannelCredential:
        return ChannelCredential(connection_id=self._connection_id, name=name)


def account_digest(key: str) -> str:
    """What ``channel_account_credentials`` stores of an account key."""
    return hashlib.sha256(key.encode()).hexdigest()


class DatabaseAccountCredentialStore(_LeasedStore):
    """The credentials of one channel account, shared by its connections in every process."""

    model = ChannelAccountCredential

    def __init__(
        self,
        sessions: sessionmaker[Session],
        box: SecretBox,
        account_key: str,
        *,
        now: WallClock = utcnow,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        super().__init__(sessions, box, now=now, sleep=sleep)
        self._account = account_digest(account_key)

    def _key(self, name: str) -> ColumnElement[bool]:
        return and_(
            ChannelAccountCredential.account_key == self._account,
            ChannelAccountCredential.name == name,
        )

    def _new_row(self, name: str) -> ChannelAccountCredential:
        return ChannelAccountCredential(account_key=self._account, name=name)

    async def spend(self, name: str, cap: int, window: timedelta, now: datetime) -> None:
        """Count one issue under the row's lease, so two processes never both take the last
        one of the cap; refused (nothing counted) when ``cap`` were issued in the window."""
        since = (now - window).timestamp()

        def counted(issued: list[float]) -> list[float]:
            recent = [moment for moment in issued if moment > since]
            refuse_past_cap([datetime.fromtimestamp(m, UTC) for m in recent], cap, window, now)
            return [*recent, now.timestamp()]

        await self._rewrite_issued(name, counted)

    async def refund(self, name: str, at: datetime) -> None:
        def taken_back(issued: list[float]) -> list[float]:
            kept = list(issued)
            if at.timestamp() in kept:
                kept.remove(at.timestamp())
            return kept

        await self._rewrite_issued(name, taken_back)

    async def _rewrite_issued(
        self, name: str, rewrite: Callable[[list[float]], list[float]]
    ) -> None:
        """Replace the row's issue list with ``rewrite`` of it, under the row's lease."""
        self._ensure_row(name)
        deadline = self._now() + MAX_WAIT
        while not self._take_lease(name):
            await self._wait(deadline)
        try:
            with transaction(self._sessions) as session:
                row = session.scalar(select(ChannelAccountCredential).where(self._key(name)))
                assert row is not None  # _ensure_row made it; rows are never deleted
                issued = rewrite(json.loads(row.issued or "[]"))
                written = session.execute(
                    update(ChannelAccountCredential)
                    .where(self._key(name), self._held(self._now()))
                    .values(issued=json.dumps(issued))
                    .execution_options(synchronize_session=False)
                )
                if getattr(written, "rowcount", 0) != 1:
                    raise ChannelUnavailableError(
                        "the channel account's issue count could not be kept; retrying later",
                        retry_after=1.0,
                    )
        finally:
            self._free_lease(name)


class DatabaseAccountCredentials:
    """Account stores on the database, by the key the adapter names the account with."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        box: SecretBox,
        *,
        now: WallClock = utcnow,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._sessions = sessions
        self._box = box
        self._now = now
        self._sleep = sleep

    def __call__(self, key: str) -> AccountCredentialStore:
        return DatabaseAccountCredentialStore(
            self._sessions, self._box, key, now=self._now, sleep=self._sleep
        )

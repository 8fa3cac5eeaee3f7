"""Credentials a channel issues and renews (OAuth access tokens, Beds24 and Booking.com tokens).

An adapter whose channel hands out short-lived tokens keeps one :class:`TokenKeeper` per token.
The keeper caches the token in memory, reads it from the adapter context's
:class:`CredentialStore` when it has none, and asks the store for a refresh when it is stale or
the channel refused it. The store runs the refresh **one at a time per connection, across
processes**: whoever holds the refresh lock calls the channel, persists the new token, and every
other worker or API process waiting on the lock reuses that token instead of spending (and
possibly invalidating, with rotating refresh tokens) another refresh.

``connections.credentials`` keeps tokens encrypted in the database with a lease as the lock; the
:class:`InMemoryCredentialStore` here serves adapters built without a database (tests, the
admin's "test connection").

A token that belongs to a channel *account* rather than to one connection (Booking.com's machine
account serves many hotels, and caps the tokens it issues per hour) lives in an
:class:`AccountCredentialStore`: the same refresh-once protocol, keyed by the account, plus a
durable count of the issues so every process on the database respects the channel's cap.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from innsync.channels.errors import ChannelUnavailableError
from innsync.clock import Clock as WallClock

# A token is renewed this long before it expires, so a call never leaves with a token that
# expires in flight (a channel call may take 30 s plus connect).
DEFAULT_REFRESH_MARGIN = timedelta(seconds=120)


@dataclass(frozen=True, slots=True)
class Credential:
    """A token a channel issued: its value, when it expires, and what renews it."""

    token: str = field(repr=False)
    expires_at: datetime | None = None
    """Timezone-aware UTC; ``None`` for tokens that live until revoked."""
    refresh_token: str | None = field(default=None, repr=False)
    """What the channel takes to issue the next token, when it rotates one with each refresh."""

    def is_usable(self, now: datetime, margin: timedelta = DEFAULT_REFRESH_MARGIN) -> bool:
        return self.expires_at is None or self.expires_at - margin > now


Obtain = Callable[["Credential | None"], Awaitable[Credential]]
"""Calls the channel for a new credential, given the current one (``None`` the first time)."""
IsStale = Callable[["Credential | None"], bool]
"""Whether a stored credential must be renewed (read again under the lock)."""


class CredentialStore(Protocol):
    """Where one connection's channel-issued credentials live, and its one refresh at a time."""

    async def load(self, name: str) -> Credential | None:
        """The stored credential called ``name``, or ``None``."""
        ...

    async def refresh(self, name: str, is_stale: IsStale, obtain: Obtain) -> Credential:
        """Under the connection's refresh lock: read ``name`` again; when ``is_stale`` says so,
        call ``obtain``, persist its answer and return it; otherwise return what is stored."""
        ...

    async def persist(self, name: str, credential: Credential) -> None:
        """Store a credential the channel issued outside a refresh (e.g. at connection setup)."""
        ...


class InMemoryCredentialStore:
    """A :class:`CredentialStore` for one process: a dict and one ``asyncio.Lock`` per name."""

    def __init__(self) -> None:
        self._credentials: dict[str, Credential] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def load(self, name: str) -> Credential | None:
        return self._credentials.get(name)

    async def refresh(self, name: str, is_stale: IsStale, obtain: Obtain) -> Credential:
        async with self._locks.setdefault(name, asyncio.Lock()):
            current = self._credentials.get(name)
            if current is not None and not is_stale(current):
                return current
            renewed = await obtain(current)
            self._credentials[name] = renewed
            return renewed

    async def persist(self, name: str, credential: Credential) -> None:
        self._credentials[name] = credential

    def held(self) -> dict[str, Credential]:
        """Every credential held, by name: to keep what a connection test obtained."""
        return dict(self._credentials)


class TokenKeeper:
    """One token of one adapter: cached in memory, loaded from the store, refreshed through it.

    ``token()`` before each call; ``rejected(token)`` when the channel answered 401 with it, so
    the next ``token()`` refreshes even if the expiry said it was still good (revoked, or the
    channel's clock differs).
    """

    def __init__(
        self,
        store: CredentialStore,
        name: str,
        obtain: Obtain,
        now: WallClock,
        margin: timedelta = DEFAULT_REFRESH_MARGIN,
    ) -> None:
        self._store = store
        self._name = name
        self._obtain = obtain
        self._now = now
        self._margin = margin
        self._cached: Credential | None = None
        self._rejected: str | None = None

    async def token(self) -> str:
        cached = self._cached
        if cached is not None and self._is_good(cached):
            return cached.token
        stored = await self._store.load(self._name)
        if stored is None or not self._is_good(stored):
            stored = await self._store.refresh(self._name, self._is_stale, self._obtain)
        self._cached = stored
        return stored.token

    async def rejected(self, token: str) -> None:
        """The channel refused ``token``: never use it again, refresh at the next call."""
        self._rejected = token
        if self._cached is not None and self._cached.token == token:
            self._cached = None

    def _is_good(self, credential: Credential) -> bool:
        return credential.token != self._rejected and credential.is_usable(
            self._now(), self._margin
        )

    def _is_stale(self, credential: Credential | None) -> bool:
        return credential is None or not self._is_good(credential)


class AccountCredentialStore(CredentialStore, Protocol):
    """The credentials of a channel account that several connections share, and the count of
    the credentials the channel issued to it (channels that cap issues per hour, Booking.com)."""

    async def spend(self, name: str, cap: int, window: timedelta, now: datetime) -> None:
        """Count one issue of ``name`` at ``now``; when ``cap`` were issued in the ``window``
        before it, count nothing and raise ``ChannelUnavailableError`` with the wait."""
        ...

    async def refund(self, name: str, at: datetime) -> None:
        """Take back the issue counted at ``at``: the channel issued nothing (it refused the
        credentials), so it does not count against the account."""
        ...


AccountCredentials = Callable[[str], AccountCredentialStore]
"""The store of the account a key names (the adapter derives the key; never a secret)."""


def refuse_past_cap(issued: list[datetime], cap: int, window: timedelta, now: datetime) -> None:
    """Raise "retry later" when ``issued`` (the issues inside the window) holds ``cap``."""
    if len(issued) >= cap:
        wait = (min(issued) + window - now).total_seconds()
        raise ChannelUnavailableError(
            f"the channel account has used its {cap} credentials for now",
            retry_after=max(wait, 1.0),
        )


class InMemoryAccountCredentialStore(InMemoryCredentialStore):
    """An :class:`AccountCredentialStore` for one process."""

    def __init__(self) -> None:
        super().__init__()
        self._issued: dict[str, list[datetime]] = {}

    async def spend(self, name: str, cap: int, window: timedelta, now: datetime) -> None:
        async with self._locks.setdefault(f"spend {name}", asyncio.Lock()):
            issued = [moment for moment in self._issued.get(name, []) if moment > now - window]
            refuse_past_cap(issued, cap, window, now)
            self._issued[name] = [*issued, now]

    async def refund(self, name: str, at: datetime) -> None:
        async with self._locks.setdefault(f"spend {name}", asyncio.Lock()):
            issued = self._issued.get(name, [])
            if at in issued:
                issued.remove(at)


class InMemoryAccountCredentials:
    """Account stores of one process, by key: adapters built without a database share them."""

    def __init__(self) -> None:
        self._stores: dict[str, InMemoryAccountCredentialStore] = {}

    def __call__(self, key: str) -> AccountCredentialStore:
        return self._stores.setdefault(key, InMemoryAccountCredentialStore())


LOCAL_ACCOUNT_CREDENTIALS = InMemoryAccountCredentials()
"""The default for adapters built without a database (tests, the admin's "test connection")."""

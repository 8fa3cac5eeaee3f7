"""Channel kinds by name: each kind's config model and how to build an adapter from it.

Built-in channels are imported the first time the registry is asked for a kind, so importing this
module does no work; each built-in module exposes a ``CHANNEL_KIND``.
"""

from __future__ import annotations

import hashlib
import importlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Generic, TypeVar

import httpx
from pydantic import BaseModel, SecretStr

from innsync.channels.config import secret_field_names
from innsync.channels.contract import ChannelAdapter
from innsync.channels.credentials import (
    LOCAL_ACCOUNT_CREDENTIALS,
    AccountCredentials,
    CredentialStore,
    InMemoryCredentialStore,
)
from innsync.channels.http import WallClock, utc_now
from innsync.channels.types import NO_VALUE_CONSTRAINTS, ValueConstraints

ConfigT = TypeVar("ConfigT", bound=BaseModel)
Clock = Callable[[], float]
"""Seconds on a clock that never goes backwards; injected so tests control time."""

BUILTIN_CHANNEL_MODULES: tuple[str, ...] = (
    "innsync.channels.fake",
    "innsync.channels.channex",
    "innsync.channels.aiosell",
    "innsync.channels.beds24",
    "innsync.channels.booking_com",
    "innsync.channels.expedia",
    "innsync.channels.agoda",
    "innsync.channels.ical",
    "innsync.channels.octorate",
)


class UnknownChannelKindError(LookupError):
    """No channel kind is registered under that name."""


class DuplicateChannelKindError(ValueError):
    """A different channel kind is already registered under that name."""


@dataclass(frozen=True, slots=True)
class AdapterContext:
    """What the caller hands every adapter it builds.

    ``credentials`` keeps the tokens a channel issues (see ``channels.credentials``): the
    database-backed store of the connection in the worker and API, a process-local one when
    the adapter is built without a database.
    """

    http: httpx.AsyncClient
    clock: Clock = time.monotonic
    now: WallClock = utc_now
    """The current UTC time, for what a channel dates (token expiry, the property's today)."""
    credentials: CredentialStore = field(default_factory=InMemoryCredentialStore)
    accounts: AccountCredentials = LOCAL_ACCOUNT_CREDENTIALS
    """The stores of channel accounts several connections share (``channels.credentials``):
    on the database in the worker and API, the process's own without one."""


@dataclass(frozen=True, slots=True)
class ChannelKind(Generic[ConfigT]):
    """One channel kind: its name, its typed config and the factory of its adapters."""

    name: str
    config_model: type[ConfigT]
    build: Callable[[ConfigT, AdapterContext], ChannelAdapter]
    title: str = ""
    value_constraints: ValueConstraints = NO_VALUE_CONSTRAINTS
    """What every adapter of the kind refuses (its ``limits.values``), known without building
    one, so an ARI write can warn about values a connection of this kind would refuse."""
    account_identity: Callable[[ConfigT], str] | None = None
    """Who the channel counts calls against, derived from a validated config (for Channex the
    API root and a digest of the key): connections with one identity spend one account-wide
    rate-limit window. Left out, the whole config is the identity, so only identical configs
    share a window. It may carry digests of secrets, never the secrets themselves."""
    refresh_token_lapse: timedelta | None = None
    """How long the channel's refresh token lives unused (Beds24: 30 days, §2.2); every
    credential the channel issues uses it. ``connections/lapse.py`` warns before it lapses."""
    webhook_verifier_field: str | None = None
    """The config field holding the secret the channel's webhooks are verified with; without
    a value every webhook is refused, so registering webhooks is refused first."""
    endpoints: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Config fields holding the channel's API URLs, each with the URLs the kind allows
    (production, sandbox). A tenant gives another only where the operator allows overrides
    (``connections.guard``), so a tenant cannot point innsync's calls elsewhere."""
    tenant_urls: frozenset[str] = frozenset()
    """Config fields holding URLs the tenant gives freely (an iCal feed): held to the
    outbound policy when stored and at every connect (``innsync.outbound``)."""
    confirm_deadline: timedelta | None = None
    """How long after a booking reaches innsync the channel waits for its acknowledgement or
    confirmation before it falls back on its own (Booking.com: 30 minutes, then e-mail to the
    hotel); None when the channel has no such deadline. The ``confirmation_overdue`` alert rule
    watches the kinds that declare one."""
    test_only: bool = False
    """A kind for tests and development (the ``fake`` channel): tenants connect it only in
    development mode."""

    def identity_of(self, config: ConfigT) -> str:
        """The account identity of a validated config (see ``account_identity``)."""
        if self.account_identity is not None:
            return self.account_identity(config)
        return hashlib.sha256(config.model_dump_json().encode()).hexdigest()

    @property
    def secret_fields(self) -> frozenset[str]:
        """The config fields typed ``SecretStr``: never shown, kept by a partial update."""
        return secret_field_names(self.config_model)


def secret_digest(secret: SecretStr) -> str:
    """A digest that tells two secrets apart without revealing either (for account identities)."""
    return hashlib.sha256(secret.get_secret_value().encode()).hexdigest()


@dataclass
class ChannelRegistry:
    """Channel kinds by name; built-in kinds are loaded lazily on first lookup."""

    builtin_modules: Sequence[str] = BUILTIN_CHANNEL_MODULES
    _kinds: dict[str, ChannelKind[Any]] = field(default_factory=dict, init=False)
    _builtins_loaded: bool = field(default=False, init=False)

    def register(self, kind: ChannelKind[Any]) -> None:
        existing = self._kinds.get(kind.name)
        if existing is not None and existing != kind:
            raise DuplicateChannelKindError(f"channel kind {kind.name!r} is already registered")
        self._kinds[kind.name] = kind

    def get(self, name: str) -> ChannelKind[Any]:
        self._load_builtins()
        try:
            return self._kinds[name]
        except KeyError:
            raise UnknownChannelKindError(f"no channel kind named {name!r}") from None

    def kinds(self) -> tuple[str, ...]:
        self._load_builtins()
        return tuple(sorted(self._kinds))

    def build(
        self, name: str, config: Mapping[str, object], context: AdapterContext
    ) -> ChannelAdapter:
        """Validate a stored config against the kind's model and build its adapter."""
        kind = self.get(name)
        return kind.build(kind.config_model.model_validate(config), context)

    def _load_builtins(self) -> None:
        if self._builtins_loaded:
            return
        for module_name in self.builtin_modules:
            self.register(importlib.import_module(module_name).CHANNEL_KIND)
        self._builtins_loaded = True


_default_registry = ChannelRegistry()


def register(kind: ChannelKind[Any]) -> None:
    """Add a channel kind to the process-wide registry."""
    _default_registry.register(kind)


def get(name: str) -> ChannelKind[Any]:
    """The channel kind registered under ``name``."""
    return _default_registry.get(name)


def kinds() -> tuple[str, ...]:
    """The names of every registered channel kind, sorted."""
    return _default_registry.kinds()


def build_adapter(
    name: str, config: Mapping[str, object], context: AdapterContext
) -> ChannelAdapter:
    """Build an adapter of kind ``name`` from its stored config."""
    return _default_registry.build(name, config, context)

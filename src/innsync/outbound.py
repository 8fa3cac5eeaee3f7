"""The one outbound-URL policy: which addresses innsync may call for a URL a tenant influences.

Channel base URLs, iCal feeds and PMS webhook URLs are given (or chosen) by tenants, so without
a policy a tenant could make innsync call the operator's own network with its credentials
(SSRF). Every such call goes through a client from :func:`async_client` or
:func:`sync_client`: each new connection resolves the host once, checks *every* address the
name resolves to, and connects to one of those checked addresses, so a DNS answer that changes
between the check and the connect (rebinding) never reaches a refused address. URLs are also
checked when they are stored (:meth:`OutboundPolicy.check_url`), so a tenant hears of a
refused URL as a 422 at once rather than as failed deliveries later.

Refused by default: loopback, private (RFC 1918), shared (100.64/10), link-local (with the
cloud metadata address 169.254.169.254), unique-local and site-local IPv6, multicast,
unspecified and reserved ranges, and IPv4 addresses wrapped in IPv6 (mapped, 6to4, NAT64).
The operator opens networks with ``INNSYNC_OUTBOUND_ALLOW_NETWORKS`` and closes more with
``INNSYNC_OUTBOUND_DENY_NETWORKS``; loopback only opens in development mode (the tests, the
demo and ``innsync simulate`` run channels on this machine).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import anyio.to_thread
import httpcore
import httpx

from innsync.settings import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Sequence[str]]
"""Host and port to the addresses the host resolves to (as text); injected so tests can make
a name resolve to any address without touching the system resolver."""

METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(text) for text in ("169.254.169.254", "fd00:ec2::254")
)
"""Cloud instance metadata (AWS, GCP, Azure, OpenStack; AWS over IPv6): named apart in
refusals because reaching it usually hands out the host's cloud credentials."""
# RFC 6052's well-known NAT64 prefix: the last 32 bits are an IPv4 address a NAT64 gateway
# would reach, so they are judged as that address.
NAT64_PREFIX = ipaddress.ip_network("64:ff9b::/96")
# The longest error text taken from a remote answer into a message shown to someone else.
REMOTE_TEXT_LIMIT = 200


class OutboundRefusedError(httpcore.ConnectError):
    """A URL or address the outbound policy refuses.

    A ``httpcore.ConnectError`` so that httpx reports it as a ``ConnectError`` like any other
    failed connect; :func:`refusal_in` finds it again in the chain to tell it apart.
    """


class UnresolvedHostError(ValueError):
    """The URL's host does not resolve now (it may later: a check at storing lets it pass)."""


def system_resolver(host: str, port: int) -> list[str]:
    """The system's resolver (``getaddrinfo``): also reads ``2130706433``, ``0x7f.1``, ``127.1``."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise UnresolvedHostError(f"host {host!r} does not resolve") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def parse_networks(values: Iterable[str]) -> tuple[IPNetwork, ...]:
    """CIDR texts (``10.20.0.0/16``, ``2001:db8::/32``, a bare address) as networks."""
    return tuple(ipaddress.ip_network(value.strip(), strict=False) for value in values if value)


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, NAT64), if any."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in NAT64_PREFIX:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _category(address: IPAddress) -> str | None:
    """Why an address is not a public one, or ``None`` when it is."""
    if address in METADATA_ADDRESSES:
        return "the cloud metadata address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if isinstance(address, ipaddress.IPv6Address) and address in ipaddress.ip_network("fc00::/7"):
        return "a unique-local address"
    if address.is_private:
        return "a private address"
    if not address.is_global or address.is_reserved:
        return "a non-public address"
    return None


@dataclass(frozen=True, slots=True)
class OutboundPolicy:
    """Which addresses tenant-influenced URLs may reach; see the module docstring."""

    allow_loopback: bool = False
    allow_networks: tuple[IPNetwork, ...] = ()
    deny_networks: tuple[IPNetwork, ...] = ()
    resolver: Resolver = system_resolver

    @classmethod
    def from_settings(cls, settings: Settings, resolver: Resolver | None = None) -> OutboundPolicy:
        return cls(
            allow_loopback=settings.development_mode,
            allow_networks=parse_networks(settings.listed(settings.outbound_allow_networks)),
            deny_networks=parse_networks(settings.listed(settings.outbound_deny_networks)),
            resolver=resolver or system_resolver,
        )

    def refusal(self, address: IPAddress) -> str | None:
        """Why ``address`` may not be called, or ``None`` when it may."""
        inner = _embedded_ipv4(address)
        if inner is not None:
            refused = self.refusal(inner)
            if refused is not None:
                return refused
        if any(address in network for network in self.deny_networks):
            return "an address the operator denies"
        category = _category(address)
        if category is None:
            return None
        if address.is_loopback:
            # Loopback is this machine: only the development mode opens it, never a network list.
            return None if self.allow_loopback else category
        if any(address in network for network in self.allow_networks):
            return None
        return category

    def checked_addresses(self, host: str, port: int) -> list[str]:
        """The addresses ``host`` resolves to, every one of them allowed, else a refusal."""
        addresses = self.resolver(host.strip("[]"), port)
        if not addresses:
            raise UnresolvedHostError(f"host {host!r} does not resolve")
        for text in addresses:
            reason = self.refusal(ipaddress.ip_address(text.split("%", 1)[0]))
            if reason is not None:
                raise OutboundRefusedError(
                    f"host {host!r} resolves to {reason}, which innsync's outbound policy refuses"
                )
        return list(addresses)

    def check_url(self, url: str, *, must_resolve: bool = False) -> None:
        """Refuse ``url`` unless it is http(s) and its host reaches only allowed addresses.

        A host that does not resolve passes unless ``must_resolve`` (it is checked again at
        every connect, so a name that resolves later is still held to the policy).
        """
        try:
            parts = urlsplit(url)
        except ValueError as exc:  # an unclosed IPv6 bracket, say
            raise OutboundRefusedError("the URL cannot be read") from exc
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise OutboundRefusedError("the URL must be http(s) with a host")
        if parts.username is not None or parts.password is not None:
            raise OutboundRefusedError("the URL must not carry a user name or password")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as exc:
            raise OutboundRefusedError("the URL's port is not a number from 0 to 65535") from exc
        try:
            self.checked_addresses(parts.hostname, port)
        except UnresolvedHostError:
            if must_resolve:
                raise


def refusal_in(exc: BaseException) -> OutboundRefusedError | None:
    """The policy refusal behind an httpx error (httpx wraps httpcore's errors), if any."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OutboundRefusedError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def remote_text(text: str, limit: int = REMOTE_TEXT_LIMIT) -> str:
    """A remote's words made fit for a message someone else reads: one line, at most
    ``limit`` characters, control characters removed."""
    flat = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


class _GuardedAsyncBackend(httpcore.AsyncNetworkBackend):
    """Connects only to addresses the policy allows, the very addresses it checked."""

    def __init__(self, policy: OutboundPolicy) -> None:
        self._policy = policy
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await anyio.to_thread.run_sync(self._policy.checked_addresses, host, port)
        except UnresolvedHostError as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None  # addresses is never empty
        raise failure

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise OutboundRefusedError("unix sockets are never reached for tenant URLs")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _GuardedSyncBackend(httpcore.NetworkBackend):
    """The blocking twin of :class:`_GuardedAsyncBackend` (webhook delivery is synchronous)."""

    def __init__(self, policy: OutboundPolicy) -> None:
        self._policy = policy
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = self._policy.checked_addresses(host, port)
        except UnresolvedHostError as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        failure: Exception | None = None
        for address in addresses:
            try:
                return self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None  # addresses is never empty
        raise failure

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise OutboundRefusedError("unix sockets are never reached for tenant URLs")


# httpx's own defaults, which a pool built by hand would not get (httpcore's are 10
# connections, kept alive forever).
_DEFAULT_LIMITS = httpx.Limits()
_POOL_LIMITS: dict[str, Any] = {
    "max_connections": _DEFAULT_LIMITS.max_connections,
    "max_keepalive_connections": _DEFAULT_LIMITS.max_keepalive_connections,
    "keepalive_expiry": _DEFAULT_LIMITS.keepalive_expiry,
}


def async_client(policy: OutboundPolicy, *, timeout: float) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` whose every connection is held to ``policy``.

    Proxy variables are ignored (``trust_env=False``): through a proxy, the proxy would
    resolve the host and the policy would only see the proxy's address.
    """
    transport = httpx.AsyncHTTPTransport(trust_env=False)
    # httpx has no public way to hand its pool a network backend; the pool is rebuilt with
    # one (tests/unit/test_outbound.py proves a loopback URL is refused through this client).
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=httpx.create_ssl_context(trust_env=False),
        network_backend=_GuardedAsyncBackend(policy),
        **_POOL_LIMITS,
    )
    return httpx.AsyncClient(transport=transport, timeout=timeout, trust_env=False)


def sync_client(policy: OutboundPolicy, *, timeout: float) -> httpx.Client:
    """An ``httpx.Client`` whose every connection is held to ``policy`` (see above)."""
    transport = httpx.HTTPTransport(trust_env=False)
    transport._pool = httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(trust_env=False),
        network_backend=_GuardedSyncBackend(policy),
        **_POOL_LIMITS,
    )
    return httpx.Client(transport=transport, timeout=timeout, trust_env=False)

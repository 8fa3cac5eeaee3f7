"""What a tenant may put in a connection: which channel kinds, which URLs innsync will call.

A connection's config decides where innsync sends the tenant's (or the operator's account's)
credentials, so it is held to the operator's rules before anything is tested or stored:

- a **test-only kind** (``fake``) is refused unless the installation runs in development mode;
- a channel's **API URLs** (``ChannelKind.endpoints``: Channex's ``base_url``…) are the kind's
  production or sandbox hosts, unless the operator allows overrides (all, or URLs under
  listed prefixes);
- every URL innsync would call (those, and free ones like an iCal feed) must pass the
  **outbound policy** (``innsync.outbound``): no loopback, private or metadata addresses.

Only what the tenant gives is checked: fields held by an operator's channel account are the
operator's own choice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from innsync.channels import registry
from innsync.channels.registry import ChannelKind, UnknownChannelKindError
from innsync.errors import FieldProblem, InvalidInputError
from innsync.outbound import OutboundPolicy, OutboundRefusedError
from innsync.settings import Settings


@dataclass(frozen=True, slots=True)
class ConnectionRules:
    """The operator's rules for tenants' connection configs (built from the settings)."""

    outbound: OutboundPolicy
    test_channels: bool = False
    url_overrides: bool = False
    url_allowlist: tuple[str, ...] = ()

    @classmethod
    def from_settings(cls, settings: Settings, outbound: OutboundPolicy) -> ConnectionRules:
        return cls(
            outbound=outbound,
            test_channels=settings.development_mode,
            url_overrides=settings.channel_url_overrides or settings.development_mode,
            url_allowlist=settings.listed(settings.channel_url_allowlist),
        )

    def kinds(self) -> list[str]:
        """The channel kinds tenants may connect to on this installation."""
        return [name for name in registry.kinds() if self._offered(registry.get(name))]

    def check(self, channel: str, given: Mapping[str, Any]) -> None:
        """Refuse (422) a kind or a URL the tenant may not use; ``given`` is the tenant's part.

        Resolves the URLs' hosts: run it off the event loop.
        """
        kind = self._kind(channel)
        problems: list[FieldProblem] = []
        for name, value in given.items():
            url = _text(value)
            if url is None or (name not in kind.endpoints and name not in kind.tenant_urls):
                continue
            pointer = f"/config/{name}"
            if name in kind.endpoints and not self._endpoint_allowed(kind, name, url):
                problems.append(
                    FieldProblem(
                        pointer,
                        f"{channel} is reached at {', '.join(kind.endpoints[name])} only; "
                        "other URLs need the operator's INNSYNC_CHANNEL_URL_OVERRIDES",
                    )
                )
                continue
            try:
                self.outbound.check_url(url)
            except OutboundRefusedError as exc:
                problems.append(FieldProblem(pointer, str(exc)))
        if problems:
            raise InvalidInputError(
                f"the {channel} config names a URL this installation does not call", problems
            )

    def _kind(self, channel: str) -> ChannelKind[Any]:
        try:
            kind = registry.get(channel)
        except UnknownChannelKindError:
            kind = None
        if kind is None or not self._offered(kind):
            # A test-only kind is answered like an unknown one: its existence is no business
            # of a tenant's on a production installation.
            raise InvalidInputError(
                f"unknown channel '{channel}'; known: {', '.join(self.kinds())}",
                [FieldProblem("/channel", "not a channel kind offered here")],
            )
        return kind

    def _offered(self, kind: ChannelKind[Any]) -> bool:
        return self.test_channels or not kind.test_only

    def _endpoint_allowed(self, kind: ChannelKind[Any], name: str, url: str) -> bool:
        if self.url_overrides or url.rstrip("/") in kind.endpoints[name]:
            return True
        # A prefix is a whole path: https://a.example must not admit https://a.example.evil.
        return any(
            url == prefix.rstrip("/") or url.startswith(prefix.rstrip("/") + "/")
            for prefix in self.url_allowlist
        )


def _text(value: Any) -> str | None:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    return value if isinstance(value, str) else None

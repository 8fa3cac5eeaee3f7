"""The only errors adapters raise; each one drives a different reaction in the worker and inbox.

Messages are read by operators and written to logs, so they never carry credentials, tokens or
signatures — only what was refused and why.
"""

from __future__ import annotations

from collections.abc import Mapping


class ChannelError(Exception):
    """Base of every error an adapter raises."""


class ChannelUnavailableError(ChannelError):
    """The channel cannot take the call now (down, timed out, over its rate limit): retry later."""

    def __init__(
        self, message: str = "channel unavailable", *, retry_after: float | None = None
    ) -> None:
        if retry_after is not None and retry_after < 0:
            raise ValueError("retry_after cannot be negative")
        super().__init__(message)
        self.retry_after = retry_after


class ChannelTimedOutError(ChannelUnavailableError):
    """The channel had the call and did not answer in time: it may still carry it out (and
    count it against its rate limit) up to ``retry_after`` seconds from now."""


class ChannelThrottledError(ChannelUnavailableError):
    """The channel's rate limit (or our meter of it) says wait: the channel is healthy, so the
    wait is not a failure and never counts towards the connection's breaker."""


class ChannelAuthError(ChannelError):
    """The channel refused the credentials: the connection needs attention before any retry."""


class ChannelRejectedError(ChannelError):
    """The channel refused the request for good; retrying the same payload will not help."""

    def __init__(
        self, message: str = "request rejected", *, entry_reasons: Mapping[int, str] | None = None
    ) -> None:
        super().__init__(message)
        self.entry_reasons: dict[int, str] = dict(entry_reasons or {})


class ActionNotSupportedError(ChannelRejectedError):
    """The channel, or the OTA behind it, does not offer this action for this booking."""


class MappingMissingError(ChannelError):
    """A room type or rate plan has no channel code, so there is nothing to send it to."""


class BadSignatureError(ChannelError):
    """An inbound webhook failed verification and must not be trusted or stored as genuine."""

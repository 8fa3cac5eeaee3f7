"""A failed push's label follows the error's class hierarchy, not its exact class: an adapter's
own subclass of a channel error is labelled, counted and logged as its parent."""

from __future__ import annotations

import pytest

from innsync.channels.errors import (
    ActionNotSupportedError,
    ChannelAuthError,
    ChannelError,
    ChannelRejectedError,
    ChannelThrottledError,
    ChannelTimedOutError,
    ChannelUnavailableError,
    MappingMissingError,
)
from innsync.sync.pusher import failure_outcome


class _GatewayTimeout(ChannelTimedOutError):
    """As an adapter might define its own."""


class _ExpiredToken(ChannelAuthError):
    pass


@pytest.mark.parametrize(
    ("error", "label"),
    [
        (ChannelThrottledError(), "throttled"),
        (ChannelTimedOutError(), "unavailable"),
        (_GatewayTimeout(), "unavailable"),
        (ChannelUnavailableError(), "unavailable"),
        (ChannelAuthError(), "auth"),
        (_ExpiredToken(), "auth"),
        (MappingMissingError(), "mapping_missing"),
        (ChannelRejectedError(), "error"),
        (ActionNotSupportedError(), "error"),
        (ChannelError(), "error"),
    ],
)
def test_a_failure_is_labelled_by_the_first_class_it_belongs_to(
    error: ChannelError, label: str
) -> None:
    assert failure_outcome(error) == label

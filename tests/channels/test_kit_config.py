"""The channel kit's config base: secrets survive the stored JSON, and nowhere else."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from innsync.channels.channex import ChannexConfig
from innsync.channels.config import MASK, ChannelConfig, LimitsFloor
from innsync.channels.fake.config import FakeChannelConfig
from innsync.channels.types import ChannelLimits


class TokenConfig(ChannelConfig):
    client_id: str
    client_secret: SecretStr
    refresh_token: SecretStr | None = None


def test_secrets_round_trip_through_the_stored_json() -> None:
    config = TokenConfig(client_id="app", client_secret=SecretStr("cs-1"), refresh_token="rt-1")
    stored = config.model_dump_json()
    assert '"client_secret":"cs-1"' in stored
    assert '"refresh_token":"rt-1"' in stored
    assert TokenConfig.model_validate_json(stored) == config


def test_secrets_stay_masked_everywhere_else() -> None:
    config = TokenConfig(client_id="app", client_secret=SecretStr("cs-1"))
    assert "cs-1" not in repr(config)
    assert "cs-1" not in str(config)
    assert "cs-1" not in str(config.model_dump())
    assert config.public_view() == {
        "client_id": "app",
        "client_secret": MASK,
        "refresh_token": None,
    }


def test_secret_fields_and_values_are_listed() -> None:
    config = TokenConfig(client_id="app", client_secret=SecretStr("cs-1"), refresh_token="rt-1")
    assert TokenConfig.secret_field_names() == {"client_secret", "refresh_token"}
    assert config.secret_values() == ("cs-1", "rt-1")


def test_the_built_in_channels_use_the_base() -> None:
    channex = ChannexConfig(api_key=SecretStr("key-1"), webhook_secret=SecretStr("hook-1"))
    assert isinstance(channex, ChannelConfig)
    assert ChannexConfig.secret_field_names() == {"api_key", "webhook_secret"}
    assert ChannexConfig.model_validate_json(channex.model_dump_json()) == channex
    assert channex.public_view()["api_key"] == MASK
    fake = FakeChannelConfig(webhook_secret=SecretStr("fake-hook"))
    assert FakeChannelConfig.model_validate_json(fake.model_dump_json()) == fake
    assert fake.secret_values() == ("fake-hook",)


class PollingConfig(ChannelConfig):
    """A kind that raises the kit's floor: its polls at least a minute apart."""

    limits_floor = LimitsFloor(min_poll_seconds=60.0)
    feed_poll_seconds: float = 300.0
    limits: ChannelLimits = ChannelLimits(requests_per_window=10, window_seconds=60.0)


def test_limits_and_polls_below_the_kinds_floor_are_refused() -> None:
    with pytest.raises(ValidationError, match=r"at most one request per 0\.1 s"):
        FakeChannelConfig.model_validate(
            {"limits": {"requests_per_window": 1000, "window_seconds": 10}}
        )
    with pytest.raises(ValidationError, match=r"window_seconds is at least 1\.0"):
        FakeChannelConfig.model_validate(
            {"limits": {"requests_per_window": 1, "window_seconds": 0.5}}
        )
    with pytest.raises(ValidationError, match=r"pull_interval_seconds: at least 5\.0 s"):
        FakeChannelConfig(pull_interval_seconds=0.001)
    with pytest.raises(ValidationError, match=r"feed_poll_seconds: at least 60\.0 s"):
        PollingConfig(feed_poll_seconds=30.0)
    # At the floor is allowed: ten calls a second, a poll every five seconds.
    at_floor = FakeChannelConfig.model_validate(
        {"limits": {"requests_per_window": 10, "window_seconds": 1}, "pull_interval_seconds": 5}
    )
    assert (at_floor.limits.requests_per_window, at_floor.pull_interval_seconds) == (10, 5.0)
    assert PollingConfig(feed_poll_seconds=60.0).feed_poll_seconds == 60.0

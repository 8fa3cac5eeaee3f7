"""The channel kit's config base: secrets survive the stored JSON, and nowhere else."""

from __future__ import annotations

from pydantic import SecretStr

from innsync.channels.channex import ChannexConfig
from innsync.channels.config import MASK, ChannelConfig
from innsync.channels.fake.config import FakeChannelConfig


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

"""The fake channel: an in-memory channel that keeps what it is sent and fails on request."""

from innsync.channels.fake.adapter import FakeChannel, RecordedRequest
from innsync.channels.fake.config import CHANNEX_LIKE_LIMITS, FakeChannelConfig
from innsync.channels.registry import AdapterContext, ChannelKind, secret_digest


def _build(config: FakeChannelConfig, context: AdapterContext) -> FakeChannel:
    return FakeChannel(config, clock=context.clock)


def _account_identity(config: FakeChannelConfig) -> str:
    # Connections holding one account key are one account; without a key each fake property
    # is its own account.
    if config.account_key is None:
        return f"property {config.property_code}"
    return f"key {secret_digest(config.account_key)}"


CHANNEL_KIND: ChannelKind[FakeChannelConfig] = ChannelKind(
    name="fake",
    config_model=FakeChannelConfig,
    build=_build,
    title="Fake channel",
    account_identity=_account_identity,
    webhook_verifier_field="webhook_secret",
    test_only=True,
)

__all__ = [
    "CHANNEL_KIND",
    "CHANNEX_LIKE_LIMITS",
    "FakeChannel",
    "FakeChannelConfig",
    "RecordedRequest",
]

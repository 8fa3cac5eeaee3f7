"""The fake channel: an in-memory channel that keeps what it is sent and fails on request."""

from innsync.channels.fake.adapter import FakeChannel, RecordedRequest
from innsync.channels.fake.config import CHANNEX_LIKE_LIMITS, FakeChannelConfig
from innsync.channels.registry import AdapterContext, ChannelKind


def _build(config: FakeChannelConfig, context: AdapterContext) -> FakeChannel:
    return FakeChannel(config, clock=context.clock)


CHANNEL_KIND: ChannelKind[FakeChannelConfig] = ChannelKind(
    name="fake", config_model=FakeChannelConfig, build=_build, title="Fake channel"
)

__all__ = [
    "CHANNEL_KIND",
    "CHANNEX_LIKE_LIMITS",
    "FakeChannel",
    "FakeChannelConfig",
    "RecordedRequest",
]

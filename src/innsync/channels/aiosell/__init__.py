"""The Aiosell channel manager (PMS integration API v2): ARI out, reservation pushes in."""

from innsync.channels.aiosell.adapter import AIOSELL_LIMITS, AiosellAdapter
from innsync.channels.aiosell.config import PRODUCTION_BASE_URL, AiosellConfig
from innsync.channels.registry import AdapterContext, ChannelKind, secret_digest


def _build(config: AiosellConfig, context: AdapterContext) -> AiosellAdapter:
    return AiosellAdapter(config, context.http, now=context.now)


def _account_identity(config: AiosellConfig) -> str:
    # aiosell.md §1.13: the update budget is the partner's, whichever hotel it pushes for.
    return f"{config.base_url} {config.partner} {config.username} {secret_digest(config.password)}"


CHANNEL_KIND: ChannelKind[AiosellConfig] = ChannelKind(
    name="aiosell",
    config_model=AiosellConfig,
    build=_build,
    title="Aiosell",
    value_constraints=AIOSELL_LIMITS.values,
    account_identity=_account_identity,
    webhook_verifier_field="webhook_password",
    # aiosell.md §1.2: one documented host; its sandbox is a hotel code on it.
    endpoints={"base_url": (PRODUCTION_BASE_URL,)},
)

__all__ = [
    "AIOSELL_LIMITS",
    "CHANNEL_KIND",
    "PRODUCTION_BASE_URL",
    "AiosellAdapter",
    "AiosellConfig",
]

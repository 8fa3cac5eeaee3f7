"""The base of every channel's connection config, with the one way secrets are kept.

A connection's config is stored as its JSON dump, encrypted whole (``connections.service``), so a
secret must survive JSON dumping; everywhere else (``repr``, ``str``, logs, errors, an API read) it
stays masked. Declaring a field ``SecretStr`` on a :class:`ChannelConfig` is all a channel does:

- ``model_dump_json()`` / ``model_dump(mode="json")`` give the value, for encrypted storage only;
- ``repr``/``str`` and :meth:`ChannelConfig.public_view` mask it;
- :meth:`ChannelConfig.secret_values` lists the values, so logs and simulators can scrub them.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, SecretStr, SerializationInfo, field_serializer
from pydantic_core.core_schema import SerializerFunctionWrapHandler

MASK = "***"


class ChannelConfig(BaseModel):
    """Frozen, closed to unknown fields; ``SecretStr`` fields are the connection's secrets."""

    model_config: ClassVar[ConfigDict] = ConfigDict(frozen=True, extra="forbid")

    @field_serializer("*", mode="wrap")
    def _reveal_secrets_for_storage(
        self, value: Any, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> Any:
        # Only JSON dumps reveal: they are what is encrypted and stored. A Python dump keeps
        # ``SecretStr`` objects, which mask themselves.
        if isinstance(value, SecretStr) and info.mode_is_json():
            return value.get_secret_value()
        return handler(value)

    @classmethod
    def secret_field_names(cls) -> frozenset[str]:
        """The fields holding secrets (declared as ``SecretStr`` or ``SecretStr | None``)."""
        return secret_field_names(cls)

    def secret_values(self) -> tuple[str, ...]:
        """The secrets this config holds, to scrub from anything shown or logged."""
        found = (getattr(self, name) for name in sorted(self.secret_field_names()))
        return tuple(value.get_secret_value() for value in found if isinstance(value, SecretStr))

    def public_view(self) -> dict[str, Any]:
        """The config as shown to people: every secret masked, unset ones left ``None``."""
        shown = self.model_dump(mode="json")
        for name in self.secret_field_names():
            if shown.get(name) is not None:
                shown[name] = MASK
        return shown


def secret_field_names(model: type[BaseModel]) -> frozenset[str]:
    """The fields of ``model`` declared ``SecretStr`` (or ``SecretStr | None``)."""
    return frozenset(
        name
        for name, info in model.model_fields.items()
        if info.annotation is not None and _mentions_secret(info.annotation)
    )


def _mentions_secret(annotation: Any) -> bool:
    if annotation is SecretStr:
        return True
    return any(_mentions_secret(arg) for arg in getattr(annotation, "__args__", ()))

"""The base of every channel's connection config, with the one way secrets are kept.

A connection's config is stored as its JSON dump, encrypted whole (``connections.service``), so a
secret must survive JSON dumping; everywhere else (``repr``, ``str``, logs, errors, an API read) it
stays masked. Declaring a field ``SecretStr`` on a :class:`ChannelConfig` is all a channel does:

- ``model_dump_json()`` / ``model_dump(mode="json")`` give the value, for encrypted storage only;
- ``repr``/``str`` and :meth:`ChannelConfig.public_view` mask it;
- :meth:`ChannelConfig.secret_values` lists the values, so logs and simulators can scrub them.

A config is the tenant's to write, so what it may ask of innsync's own loops is bounded too:
every :class:`ChannelLimits` it holds and every polling interval (a field named
``*_interval_seconds`` or ``*_poll_seconds``) is held to the kind's :class:`LimitsFloor`
(``ChannelConfig.limits_floor``), so no tenant can set a connection to call or poll faster.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    SecretStr,
    SerializationInfo,
    field_serializer,
    model_validator,
)
from pydantic_core.core_schema import SerializerFunctionWrapHandler

from innsync.channels.types import ChannelLimits

MASK = "***"
POLL_FIELD_SUFFIXES = ("_interval_seconds", "_poll_seconds")


@dataclass(frozen=True, slots=True)
class LimitsFloor:
    """The most a tenant's config may ask of innsync's loops for one connection."""

    min_seconds_per_request: float = 0.1
    """``window_seconds / requests_per_window`` of any limits held: at most 10 calls a second
    by default, already past every documented channel budget (Channex: 10 a minute)."""
    min_window_seconds: float = 1.0
    """A shorter window only makes bursts sharper, never allows more work in a minute."""
    min_poll_seconds: float = 5.0
    """The shortest polling interval: a pull is a channel call plus a database write."""

    def problems(self, config: BaseModel) -> list[str]:
        """What in ``config`` goes below this floor, as messages naming the field."""
        found = []
        for name, value in config:
            if isinstance(value, ChannelLimits):
                pace = value.window_seconds / value.requests_per_window
                if pace < self.min_seconds_per_request:
                    found.append(
                        f"{name}: at most one request per {self.min_seconds_per_request} s "
                        f"(requests_per_window / window_seconds is {1 / pace:g} per second)"
                    )
                if value.window_seconds < self.min_window_seconds:
                    found.append(f"{name}: window_seconds is at least {self.min_window_seconds}")
            elif (
                name.endswith(POLL_FIELD_SUFFIXES)
                and isinstance(value, int | float)
                and value < self.min_poll_seconds
            ):
                found.append(f"{name}: at least {self.min_poll_seconds} s")
        return found


class ChannelConfig(BaseModel):
    """Frozen, closed to unknown fields; ``SecretStr`` fields are the connection's secrets."""

    model_config: ClassVar[ConfigDict] = ConfigDict(frozen=True, extra="forbid")
    limits_floor: ClassVar[LimitsFloor] = LimitsFloor()
    """The kind's floor (see :class:`LimitsFloor`); a kind may raise it, never lower it per
    connection."""

    @model_validator(mode="after")
    def _within_floor(self) -> Self:
        problems = self.limits_floor.problems(self)
        if problems:
            raise ValueError("below the channel's floor: " + "; ".join(problems))
        return self

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

"""A connection's config: validated per channel kind, merged over its account, keyed to a bucket.

A connection stores its own part of the config, encrypted. When it uses an operator's channel
account (:class:`ChannelAccount`), the account's part (its keys) is merged over it each time an
adapter is built, so rotating the account takes effect on the next build and the tenant's side
never holds the account's secrets.
"""

from __future__ import annotations

import functools
import hashlib
import json
import uuid
from typing import Any

import httpx
from pydantic import BaseModel, ValidationError, create_model

from innsync.channels import registry
from innsync.channels.registry import AdapterContext, ChannelKind, UnknownChannelKindError
from innsync.connections.models import ChannelAccount, Connection
from innsync.crypto import SecretBox
from innsync.errors import FieldProblem, InvalidInputError

ACCOUNT_FIELD = "account"
"""The config field naming the operator's channel account a connection uses."""


@functools.cache
def inspection_client() -> httpx.AsyncClient:
    """A client for adapters built only to read their limits and capabilities; never used to
    send. One per process: building a client loads the CA bundle, about 100 ms each time."""
    return httpx.AsyncClient()


def channel_kind(channel: str) -> ChannelKind[Any]:
    """The registered kind, or a 422 naming the kinds there are."""
    try:
        return registry.get(channel)
    except UnknownChannelKindError as exc:
        known = ", ".join(registry.kinds())
        raise InvalidInputError(f"unknown channel '{channel}'; known: {known}") from exc


def _problems(exc: ValidationError, prefix: str) -> list[FieldProblem]:
    return [
        FieldProblem(prefix + "/".join(str(p) for p in error["loc"]), error["msg"])
        for error in exc.errors()
    ]


def validated_config(
    channel: str, own: dict[str, Any], account: ChannelAccount | None, box: SecretBox
) -> BaseModel:
    """The connection's config as the adapter gets it: its own fields merged with the account's.

    A field the account holds may not be given by the connection: it would be silently ignored.
    """
    kind = channel_kind(channel)
    held = account_part(account, box) if account is not None else {}
    overlap = sorted(set(own) & set(held))
    if account is not None and overlap:
        raise InvalidInputError(
            f"the channel account '{account.name}' holds these fields; leave them out",
            [FieldProblem(f"/config/{name}", "held by the channel account") for name in overlap],
        )
    try:
        validated: BaseModel = kind.config_model.model_validate({**own, **held})
    except ValidationError as exc:
        raise InvalidInputError(
            f"the {channel} config is invalid", _problems(exc, "/config/")
        ) from exc
    return validated


def own_part(config: BaseModel, account: ChannelAccount | None, box: SecretBox) -> dict[str, Any]:
    """What the connection itself stores of a validated config: all but the account's fields."""
    dumped: dict[str, Any] = json.loads(config.model_dump_json())
    if account is None:
        return dumped
    held = account_part(account, box)
    return {name: value for name, value in dumped.items() if name not in held}


def stored_part(connection: Connection, box: SecretBox) -> dict[str, Any]:
    """The connection's own stored config, decrypted (secrets included)."""
    own: dict[str, Any] = json.loads(box.decrypt(connection.config_encrypted))
    return own


def account_part(account: ChannelAccount, box: SecretBox) -> dict[str, Any]:
    """The account's part of every config that uses it, decrypted (secrets included)."""
    held: dict[str, Any] = json.loads(box.decrypt(account.config_encrypted))
    return held


def effective_config(connection: Connection, box: SecretBox) -> dict[str, Any]:
    """The config an adapter of the connection is built from (the account's fields win)."""
    own = stored_part(connection, box)
    if connection.account is None:
        return own
    return {**own, **account_part(connection.account, box)}


def validated_account_part(channel: str, fields: dict[str, Any]) -> dict[str, Any]:
    """An account's fields, each validated as the kind's config validates it, for storing.

    The rest of a config (the property id, switches) comes from each connection; the whole is
    validated again when a connection is built on the account.
    """
    kind = channel_kind(channel)
    model = kind.config_model
    problems = [
        FieldProblem(f"/config/{name}", f"the {channel} config has no such field")
        for name in fields
        if name not in model.model_fields
    ]
    if not fields:
        problems.append(FieldProblem("/config", "an account holds at least one field"))
    if problems:
        raise InvalidInputError(f"the {channel} account config is invalid", problems)
    try:
        part = _partial_model(kind.name, frozenset(fields)).model_validate(fields)
    except ValidationError as exc:
        raise InvalidInputError(
            f"the {channel} account config is invalid", _problems(exc, "/config/")
        ) from exc
    validated: dict[str, Any] = json.loads(part.model_dump_json(include=set(fields)))
    return validated


@functools.cache
def _partial_model(channel: str, given: frozenset[str]) -> type[BaseModel]:
    """The kind's config model with every field but ``given`` made optional and unchecked, so
    the given fields keep their own types, constraints, validators and serializers."""
    model = channel_kind(channel).config_model
    loose: dict[str, Any] = {name: (Any, None) for name in model.model_fields if name not in given}
    partial: type[BaseModel] = create_model(f"{model.__name__}Part", __base__=model, **loose)
    return partial


def bucket_key(channel: str, connection_id: uuid.UUID, config: BaseModel) -> str:
    """Connections that spend one rate-limit window share a bucket key.

    Limits counted per property are the connection's own; account-wide limits are shared by
    every connection on the same account, as its channel kind identifies the account.
    """
    kind = channel_kind(channel)
    adapter = kind.build(config, AdapterContext(http=inspection_client()))
    if adapter.limits.window_scope == "property":
        return f"{channel}:connection:{connection_id}"
    # Hashed again: an identity may carry digests of keys, and bucket keys are logged.
    digest = hashlib.sha256(kind.identity_of(config).encode()).hexdigest()[:24]
    return f"{channel}:account:{digest}"


def refresh_bucket_key(connection: Connection, box: SecretBox) -> None:
    """Recompute the bucket key after the config or the account changed."""
    config = channel_kind(connection.channel).config_model.model_validate(
        effective_config(connection, box)
    )
    connection.bucket_key = bucket_key(connection.channel, connection.id, config)


def public_config(connection: Connection, box: SecretBox) -> tuple[dict[str, Any], list[str]]:
    """The connection's own config without its secrets, and the names of the secrets it holds."""
    secrets = channel_kind(connection.channel).secret_fields
    own = stored_part(connection, box)
    shown = {name: value for name, value in own.items() if name not in secrets}
    held = sorted(name for name in secrets if own.get(name) is not None)
    return shown, held

"""Forms generated from a channel kind's config model: one template serves every channel.

Each field of the kind's pydantic model becomes an input by its type (text, number, checkbox,
a choice for a ``Literal``, a password input for a ``SecretStr``); a URL field the kind
declares in ``endpoints`` is a choice of the kind's own URLs, or free text with those URLs
suggested where the operator allows overrides. Fields of other shapes (limits, lists, maps)
are left to the API and listed as such. What the form sends back is turned into the config
dict the API takes, so validation, the operator's rules and the connection test are the
service's own.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from pydantic import SecretStr
from pydantic.fields import FieldInfo

from innsync.channels.registry import ChannelKind
from innsync.connections.guard import ConnectionRules
from innsync.errors import FieldProblem

FIELD_PREFIX = "config."
"""Form names of config fields (``config.api_key``), apart from the form's own fields."""

InputKind = Literal["text", "secret", "integer", "number", "checkbox", "choice", "url"]


@dataclass(frozen=True, slots=True)
class ConfigField:
    """One config field as a form input."""

    name: str
    label: str
    kind: InputKind
    help: str
    required: bool
    nullable: bool
    choices: tuple[str, ...] = ()
    free_text: bool = False
    """A URL field whose value may be any URL (overrides allowed): ``choices`` are suggestions."""
    minimum: float | None = None
    maximum: float | None = None
    value: str = ""
    checked: bool = False
    secret_set: bool = False
    error: str = ""

    @property
    def form_name(self) -> str:
        return FIELD_PREFIX + self.name

    @property
    def dom_id(self) -> str:
        return "f-" + self.name.replace("_", "-")

    @property
    def is_basic(self) -> bool:
        """Shown first: what a person must or usually gives; the rest goes under "More"."""
        return self.required or self.kind == "secret" or self.kind == "url"


@dataclass(frozen=True, slots=True)
class ConfigForm:
    """The inputs of one kind's config, and the fields only the API can set."""

    fields: tuple[ConfigField, ...]
    api_only: tuple[str, ...]

    @property
    def basic(self) -> tuple[ConfigField, ...]:
        return tuple(f for f in self.fields if f.is_basic)

    @property
    def more(self) -> tuple[ConfigField, ...]:
        return tuple(f for f in self.fields if not f.is_basic)


def _unwrapped(annotation: Any) -> tuple[Any, bool]:
    """The annotation without ``| None``, and whether ``None`` was allowed."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        nullable = len(args) < len(typing.get_args(annotation))
        if len(args) == 1:
            return args[0], nullable
        return annotation, nullable
    return annotation, False


def _bounds(info: FieldInfo) -> tuple[float | None, float | None]:
    low = high = None
    for item in info.metadata:
        for name in ("ge", "gt"):
            if isinstance(getattr(item, name, None), int | float):
                low = float(getattr(item, name))
        for name in ("le", "lt"):
            if isinstance(getattr(item, name, None), int | float):
                high = float(getattr(item, name))
    return low, high


def _input(
    name: str, info: FieldInfo, kind: ChannelKind[Any], rules: ConnectionRules
) -> ConfigField | None:
    annotation, nullable = _unwrapped(info.annotation)
    label = name.replace("_", " ").capitalize()
    common: dict[str, Any] = {
        "name": name,
        "label": label,
        "help": info.description or "",
        "required": info.is_required(),
        "nullable": nullable,
    }
    low, high = _bounds(info)
    if annotation is SecretStr:
        return ConfigField(kind="secret", **common)
    if annotation is bool:
        return ConfigField(kind="checkbox", **common)
    if annotation is int:
        return ConfigField(kind="integer", minimum=low, maximum=high, **common)
    if annotation is float:
        return ConfigField(kind="number", minimum=low, maximum=high, **common)
    if typing.get_origin(annotation) is Literal:
        choices = tuple(str(arg) for arg in typing.get_args(annotation))
        return ConfigField(kind="choice", choices=choices, **common)
    if annotation is str and name in kind.endpoints:
        allowed = kind.endpoints[name]
        return ConfigField(kind="url", choices=allowed, free_text=rules.url_overrides, **common)
    if annotation is str:
        return ConfigField(kind="text", **common)
    return None


def config_form(
    kind: ChannelKind[Any],
    rules: ConnectionRules,
    values: Mapping[str, Any] | None = None,
    secrets_set: frozenset[str] = frozenset(),
    problems: Mapping[str, str] | None = None,
    held: frozenset[str] = frozenset(),
) -> ConfigForm:
    """The kind's config as inputs, filled with ``values`` (never a secret's) and ``problems``
    (messages by field name); ``held`` fields (an operator's channel account's) are left out."""
    values = values or {}
    problems = problems or {}
    fields, api_only = [], []
    for name, info in kind.config_model.model_fields.items():
        if name in held:
            continue
        found = _input(name, info, kind, rules)
        if found is None:
            api_only.append(name)
            continue
        if name in values:
            value = values[name]
        else:
            value = None if info.is_required() else info.get_default(call_default_factory=True)
        shown = "" if found.kind == "secret" or value is None else str(value)
        if found.kind == "checkbox":
            fields.append(_with(found, checked=bool(value), error=problems.get(name, "")))
            continue
        fields.append(
            _with(
                found,
                value=shown,
                secret_set=name in secrets_set,
                error=problems.get(name, ""),
            )
        )
    return ConfigForm(tuple(fields), tuple(api_only))


def _with(field: ConfigField, **changes: Any) -> ConfigField:
    return replace(field, **changes)


def posted_config(form: ConfigForm, posted: Mapping[str, Any], *, editing: bool) -> dict[str, Any]:
    """The config dict a submitted form stands for, as the API takes it.

    A blank field is left out (its default, or on an edit the stored value, applies), except a
    field that may be unset, which becomes ``None`` on an edit (``editing``). A blank secret is
    always left out, so on an edit a secret is kept unless a new one is typed. Values go as
    text: the kind's model parses and checks them; its messages come back beside the fields.
    """
    config: dict[str, Any] = {}
    for field in form.fields:
        raw = posted.get(field.form_name)
        text = raw.strip() if isinstance(raw, str) else ""
        if field.kind == "checkbox":
            config[field.name] = text == "true"
        elif text:
            config[field.name] = text
        elif field.kind != "secret" and editing and field.nullable:
            config[field.name] = None
    return config


def problems_by_field(problems: list[FieldProblem]) -> tuple[dict[str, str], list[str]]:
    """Messages by config field (from ``/config/<name>...`` pointers), and the others."""
    by_field: dict[str, str] = {}
    rest: list[str] = []
    for problem in problems:
        parts = problem.pointer.strip("/").split("/")
        if len(parts) >= 2 and parts[0] == "config":
            by_field.setdefault(parts[1], problem.detail)
        elif problem.pointer.strip("/") == "config" or not problem.pointer:
            rest.append(problem.detail)
        else:
            rest.append(f"{problem.pointer}: {problem.detail}")
    return by_field, rest

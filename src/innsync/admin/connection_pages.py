"""The connection pages: add a connection, its detail (settings, test, provisioning, webhooks,
full sync with progress) and the mapping editor.

Every action calls the service the JSON API calls (``api/connection_setup.py``,
``connections.service``, ``connections.provisioning``); a refusal is shown on the page, next to
the field it concerns where it names one, never as a 500.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from innsync.admin.auth import ADMIN_PATH, AdminRefusalError, User, Writer
from innsync.admin.config_forms import ConfigForm, config_form, posted_config, problems_by_field
from innsync.admin.connection_views import (
    ConnectionDetail,
    MappingEditor,
    account_fields,
    connection_detail,
    fix_for,
    full_sync_progress,
    mapping_editor,
    suggest,
)
from innsync.admin.connections import SWITCHES
from innsync.admin.rendering import page
from innsync.api.channel_calls import ChannelHttp, calling_channel
from innsync.api.connection_setup import create_tested, update_tested
from innsync.api.deps import Box, Db, Rules
from innsync.api.routers.oauth import authorization_url
from innsync.channels.contract import ChannelAdapter, ReadsBackAri, ReadsRemoteCatalog
from innsync.connections import audit, provisioning, service
from innsync.connections.configs import channel_kind, inspection_client
from innsync.connections.models import Connection
from innsync.connections.schemas import (
    ConnectionCreate,
    ConnectionUpdate,
    MappingsWrite,
    RatePlanMappingIn,
    RemoteCatalogRead,
    RoomTypeMappingIn,
)
from innsync.errors import (
    ConflictError,
    DomainError,
    FieldProblem,
    InvalidInputError,
    NotFoundError,
)
from innsync.properties.models import Property
from innsync.properties.service import get_owned
from innsync.sync.drift import DriftReport, audit_connection
from innsync.tenants.users import SignedIn

router = APIRouter(prefix=f"{ADMIN_PATH}/connections", include_in_schema=False)
T = TypeVar("T")
MAX_NAME = 200


@dataclass(frozen=True, slots=True)
class KindAction:
    """A button on the detail page of one channel kind's connections (a POST to ``path``,
    with ``{id}`` standing for the connection), e.g. an OAuth "connect" for a kind that needs
    one; :data:`KIND_ACTIONS` lists them by kind."""

    label: str
    path: str


KIND_ACTIONS: dict[str, tuple[KindAction, ...]] = {
    "octorate": (KindAction("Connect with Octorate", f"{ADMIN_PATH}/connections/{{id}}/oauth"),),
}

# What a finished action says on the page it returns to (the query names one; no free text
# travels in the URL).
NOTICES = {
    "created": "Connection added. Map its room types and rate plans next.",
    "saved": "Settings saved.",
    "tested": "The channel accepted the connection test.",
    "provisioned": "Provisioned: the channel's ids are stored and mapped.",
    "webhooks": "Webhooks registered on the channel.",
    "full-sync": "Full sync started: everything is sent again over the horizon.",
    "switched": "Switch changed.",
    "resumed": "Syncing again.",
    "mappings": "Mappings saved; what changed is queued for sending.",
}


def _field(form: Any, name: str, limit: int = 2048) -> str:
    value = form.get(name)
    return value[:limit].strip() if isinstance(value, str) else ""


async def _owned(db: Db, work: Callable[[Session], T]) -> T:
    """A read of one of the tenant's connections (the work scopes it); missing is a 404 page."""
    try:
        return await db.read(work)
    except NotFoundError as exc:
        raise AdminRefusalError(404, "No such connection.") from exc


def _back(connection_id: uuid.UUID, notice: str, where: str = "") -> RedirectResponse:
    return RedirectResponse(
        f"{ADMIN_PATH}/connections/{connection_id}{where}?done={notice}", status_code=303
    )


def _offered(rules: Rules) -> list[tuple[str, str]]:
    """The kinds this installation offers (test-only ones in development mode), with titles."""
    return [(name, channel_kind(name).title or name) for name in rules.kinds()]


async def _properties(db: Db, user: SignedIn) -> list[tuple[uuid.UUID, str]]:
    rows = await db.read(
        lambda s: s.execute(
            select(Property.id, Property.name)
            .where(Property.tenant_id == user.tenant_id)
            .order_by(Property.name, Property.id)
        ).all()
    )
    return [(row[0], row[1]) for row in rows]


def _add_page(
    request: Request,
    user: SignedIn,
    rules: Rules,
    properties: list[tuple[uuid.UUID, str]],
    chosen: dict[str, str],
    form: ConfigForm | None,
    errors: dict[str, str] | None = None,
    message: str = "",
    status: int = 200,
) -> HTMLResponse:
    context = {
        "user": user,
        "active": "connections",
        "kinds": _offered(rules),
        "properties": properties,
        "chosen": chosen,
        "form": form,
        "errors": errors or {},
        "message": message,
    }
    return page(request, "conn_add.html", context, status)


@router.get("/new")
async def add_form(
    request: Request, db: Db, user: User, rules: Rules, channel: str = "", property: str = ""
) -> HTMLResponse:
    """Choose a property and a channel kind; the kind's config fields follow as inputs."""
    properties = await _properties(db, user)
    offered = dict(_offered(rules))
    form = config_form(channel_kind(channel), rules) if channel in offered else None
    chosen = {"channel": channel if channel in offered else "", "property": property}
    return _add_page(request, user, rules, properties, chosen, form)


@router.post("/new")
async def add(
    request: Request, db: Db, user: Writer, rules: Rules, box: Box, http: ChannelHttp
) -> Response:
    """Create the connection through the API's service: rules, connection test, then store."""
    posted = await request.form()
    channel, name = _field(posted, "channel", 64), _field(posted, "name", MAX_NAME + 1)
    property_text = _field(posted, "property", 64)
    properties = await _properties(db, user)
    offered = dict(_offered(rules))
    if channel not in offered:
        raise AdminRefusalError(400, "Choose a channel this installation offers.")
    form = config_form(channel_kind(channel), rules)
    config = posted_config(form, posted, editing=False)
    chosen = {"channel": channel, "property": property_text, "name": name}
    errors: dict[str, str] = {}
    property_id = _uuid(property_text)
    if property_id is None or property_id not in {p for p, _ in properties}:
        errors["property"] = "Choose one of your properties."
    if not 1 <= len(name) <= MAX_NAME:
        errors["name"] = f"Give the connection a name of 1 to {MAX_NAME} characters."
    if errors or property_id is None:
        filled = config_form(channel_kind(channel), rules, _shown(config))
        return _add_page(request, user, rules, properties, chosen, filled, errors, status=422)
    data = ConnectionCreate(channel=channel, name=name, config=config)
    test = _field(posted, "test") == "true"
    try:
        created = await create_tested(db, box, rules, http, user.tenant_id, property_id, data, test)
    except DomainError as exc:
        by_field, rest = problems_by_field(exc.problems)
        filled = config_form(channel_kind(channel), rules, _shown(config), problems=by_field)
        message = "; ".join([exc.detail, *rest])
        return _add_page(request, user, rules, properties, chosen, filled, {}, message, exc.status)
    return _back(created.id, "created")


def _uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


def _shown(config: dict[str, Any]) -> dict[str, Any]:
    """What was typed, to show again; a secret never goes back into the page."""
    return {name: value for name, value in config.items() if isinstance(value, str | bool)}


def _detail_page(
    request: Request,
    user: SignedIn,
    rules: Rules,
    detail: ConnectionDetail,
    notice: str = "",
    message: str = "",
    problems: dict[str, str] | None = None,
    typed: dict[str, Any] | None = None,
    status: int = 200,
) -> HTMLResponse:
    """The detail page; ``notice`` is a key of :data:`NOTICES` (from a redirect's query, so
    never free text from outside) or a sentence this module wrote."""
    read = detail.connection
    kind = channel_kind(read.channel)
    values = {**read.config, **(typed or {})}
    secrets_set = frozenset(read.secrets_set)
    form = config_form(kind, rules, values, secrets_set, problems or {}, detail.account_fields)
    context = {
        "user": user,
        "active": "connections",
        "detail": detail,
        "c": read,
        "kind_title": kind.title or read.channel,
        "fix": fix_for(read.state),
        "form": form,
        "switches": SWITCHES,
        "notice": NOTICES.get(notice, notice),
        "message": message,
        "kind_actions": KIND_ACTIONS.get(read.channel, ()),
        "refresh": f"{max(request.app.state.settings.admin_refresh_seconds, 1):g}",
    }
    return page(request, "conn_detail.html", context, status)


@router.get("/{connection_id}")
async def detail(
    request: Request,
    db: Db,
    user: User,
    rules: Rules,
    box: Box,
    connection_id: uuid.UUID,
    done: str = "",
) -> HTMLResponse:
    found = await _owned(db, lambda s: connection_detail(s, box, user.tenant_id, connection_id))
    # Only the known notices: a crafted link cannot put its own sentence on the page.
    return _detail_page(request, user, rules, found, notice=done if done in NOTICES else "")


@dataclass
class _ChannelAction:
    """What a writer's action on one connection that may call its channel needs (the settings
    form, a test, a drift audit, provisioning, webhook registration): one dependency instead of
    the same six parameters on each handler."""

    request: Request
    db: Db
    user: Writer
    rules: Rules
    box: Box
    http: ChannelHttp


ChannelAction = Annotated[_ChannelAction, Depends()]


async def _refused_on_detail(
    action: _ChannelAction,
    connection_id: uuid.UUID,
    exc: DomainError,
    typed: dict[str, Any] | None = None,
) -> HTMLResponse:
    """The detail page again, with what the service or the channel answered."""
    if isinstance(exc, NotFoundError):
        raise AdminRefusalError(404, "No such connection.") from exc
    user, box = action.user, action.box
    found = await _owned(
        action.db, lambda s: connection_detail(s, box, user.tenant_id, connection_id)
    )
    by_field, rest = problems_by_field(exc.problems)
    message = "; ".join([exc.detail, *rest])
    status = exc.status if 400 <= exc.status < 600 else 422
    return _detail_page(
        action.request, user, action.rules, found, "", message, by_field, typed, status
    )


async def _adapter(action: _ChannelAction, connection_id: uuid.UUID) -> ChannelAdapter:
    """The adapter of one of the tenant's connections, with its stored credentials."""
    db, tenant_id = action.db, action.user.tenant_id
    return await db.read(
        lambda s: service.build_adapter(
            get_owned(s, Connection, tenant_id, connection_id), action.box, action.http, db.sessions
        )
    )


async def _act(
    action: _ChannelAction, connection_id: uuid.UUID, call: Awaitable[Any], notice: str
) -> Response:
    try:
        await calling_channel(call)
    except DomainError as exc:
        return await _refused_on_detail(action, connection_id, exc)
    return _back(connection_id, notice)


@router.post("/{connection_id}/settings")
async def save_settings(action: ChannelAction, connection_id: uuid.UUID) -> Response:
    """Change the name and config; a blank secret keeps the stored one."""
    db, user, rules, box = action.db, action.user, action.rules, action.box
    posted = await action.request.form()

    def channel_and_held(session: Session) -> tuple[str, frozenset[str]]:
        connection = get_owned(session, Connection, user.tenant_id, connection_id)
        return connection.channel, account_fields(connection, box)

    channel, held = await _owned(db, channel_and_held)
    form = config_form(channel_kind(channel), rules, held=held)
    config = posted_config(form, posted, editing=True)
    test = _field(posted, "test") == "true"
    name = _field(posted, "name", MAX_NAME + 1)
    try:
        if len(name) > MAX_NAME:
            raise InvalidInputError(
                "the settings are invalid",
                [FieldProblem("/name", f"at most {MAX_NAME} characters")],
            )
        change = ConnectionUpdate(name=name or None, config=config)
        await update_tested(
            db,
            box,
            rules,
            action.http,
            user.tenant_id,
            connection_id,
            change,
            audit.user_actor(user.user_id),
            test,
        )
    except DomainError as exc:
        return await _refused_on_detail(action, connection_id, exc, _shown(config))
    return _back(connection_id, "saved")


@router.post("/{connection_id}/oauth")
async def connect_by_oauth(
    request: Request, db: Db, user: Writer, connection_id: uuid.UUID
) -> Response:
    """Send the owner's browser to the channel's approval page, as the API's
    ``GET /connections/{id}/oauth/start`` does; the channel sends it back to innsync's callback."""
    try:
        target = await authorization_url(request, db, user.tenant_id, connection_id)
    except NotFoundError as exc:
        raise AdminRefusalError(404, "No such connection.") from exc
    except DomainError as exc:
        raise AdminRefusalError(409, str(exc)) from exc
    return RedirectResponse(target, status_code=303, headers={"cache-control": "no-store"})


@router.post("/{connection_id}/test")
async def test(action: ChannelAction, connection_id: uuid.UUID) -> Response:
    """Call the channel with the stored config, as ``POST /connections/{id}/test`` does."""

    async def call() -> None:
        adapter = await _adapter(action, connection_id)
        await adapter.test_connection()

    return await _act(action, connection_id, call(), "tested")


@router.post("/{connection_id}/drift")
async def audit_drift(action: ChannelAction, connection_id: uuid.UUID) -> Response:
    """Read back what the channel shows and queue a repair of every date that differs from
    what it acknowledged (``innsync sync audit``); the page says what was found."""

    async def call() -> DriftReport:
        adapter = await _adapter(action, connection_id)
        if not isinstance(adapter, ReadsBackAri):
            raise ConflictError(f"the {adapter.name} channel cannot show its ARI back")
        return await audit_connection(action.db.sessions, connection_id, adapter)

    try:
        report = await calling_channel(call())
    except DomainError as exc:
        return await _refused_on_detail(action, connection_id, exc)
    user, box = action.user, action.box
    found = await _owned(
        action.db, lambda s: connection_detail(s, box, user.tenant_id, connection_id)
    )
    notice = (
        f"Drift audit: {report.availability_dates} availability dates and "
        f"{report.rate_dates} rate dates differ on the channel; they are queued to be sent again."
        if report.availability_dates or report.rate_dates
        else "Drift audit: the channel shows exactly what it acknowledged."
    )
    return _detail_page(action.request, user, action.rules, found, notice)


@router.post("/{connection_id}/provision")
async def provision(action: ChannelAction, connection_id: uuid.UUID) -> Response:
    call = provisioning.provision(
        action.db, action.box, action.user.tenant_id, connection_id, action.http
    )
    return await _act(action, connection_id, call, "provisioned")


@router.post("/{connection_id}/webhooks")
async def register_webhooks(action: ChannelAction, connection_id: uuid.UUID) -> Response:
    request = action.request
    public_url = request.app.state.settings.public_url or str(request.base_url)
    call = provisioning.register_webhooks(
        action.db, action.box, action.user.tenant_id, connection_id, action.http, public_url
    )
    return await _act(action, connection_id, call, "webhooks")


@router.post("/{connection_id}/full-sync")
async def full_sync(db: Db, user: Writer, connection_id: uuid.UUID) -> Response:
    """Send everything again over the horizon (the service ``POST /full-sync`` calls)."""

    def start(session: Session) -> None:
        service.start_full_sync(
            session, get_owned(session, Connection, user.tenant_id, connection_id)
        )

    try:
        await db.write(start)
    except NotFoundError as exc:
        raise AdminRefusalError(404, "No such connection.") from exc
    return _back(connection_id, "full-sync")


@router.get("/{connection_id}/progress")
async def progress(request: Request, db: Db, user: User, connection_id: uuid.UUID) -> Response:
    """The progress part alone, for htmx to poll while marks remain (it stops at none)."""
    found = await _owned(db, lambda s: full_sync_progress(s, user.tenant_id, connection_id))
    refresh = f"{max(request.app.state.settings.admin_refresh_seconds, 1):g}"
    context = {"progress": found, "connection_id": connection_id, "refresh": refresh}
    return page(request, "_conn_progress.html", context)


@router.post("/{connection_id}/set")
async def switch(
    request: Request, db: Db, user: Writer, box: Box, connection_id: uuid.UUID
) -> Response:
    """A switch, or ``state`` back to connected, from the detail page; back to it after."""
    posted = await request.form()
    name, on = _field(posted, "switch"), _field(posted, "on")
    if name == "state" and on == "connected":
        change = ConnectionUpdate(state="connected")
        notice = "resumed"
    elif name in SWITCHES and on in ("true", "false"):
        change = ConnectionUpdate.model_validate({name: on == "true"})
        notice = "switched"
    else:
        raise AdminRefusalError(400, "Unknown switch.")
    try:
        await db.write(
            lambda s: service.update_connection(
                s, box, user.tenant_id, connection_id, change, audit.user_actor(user.user_id)
            )
        )
    except NotFoundError as exc:
        raise AdminRefusalError(404, "No such connection.") from exc
    return _back(connection_id, notice)


async def _editor(
    db: Db, user: SignedIn, box: Box, http: ChannelHttp, connection_id: uuid.UUID
) -> tuple[MappingEditor, str]:
    """The editor's rows, with the channel's catalog where the adapter can read it (and the
    channel's answer when it could not)."""

    def read(session: Session) -> tuple[MappingEditor, bool]:
        editor = mapping_editor(session, user.tenant_id, connection_id)
        connection = get_owned(session, Connection, user.tenant_id, connection_id)
        adapter = service.build_adapter(connection, box, inspection_client())
        return editor, isinstance(adapter, ReadsRemoteCatalog)

    editor, readable = await _owned(db, read)
    remote: RemoteCatalogRead | None = None
    problem = ""
    if readable:
        try:
            remote = await calling_channel(
                provisioning.read_remote_catalog(db, box, user.tenant_id, connection_id, http)
            )
        except DomainError as exc:
            problem = f"The channel's room types and rate plans could not be read: {exc.detail}"
    suggest(editor, remote)
    return editor, problem


def _mapping_page(
    request: Request,
    user: SignedIn,
    editor: MappingEditor,
    use_suggestions: bool,
    notice: str = "",
    message: str = "",
    status: int = 200,
) -> HTMLResponse:
    context = {
        "user": user,
        "active": "connections",
        "editor": editor,
        "use_suggestions": use_suggestions,
        "notice": NOTICES.get(notice, notice),
        "message": message,
    }
    return page(request, "conn_mappings.html", context, status)


@router.get("/{connection_id}/mappings")
async def mappings(
    request: Request,
    db: Db,
    user: User,
    box: Box,
    http: ChannelHttp,
    connection_id: uuid.UUID,
    suggested: bool = False,
    done: str = "",
) -> HTMLResponse:
    """Local room types and rate plans beside the channel's; ``suggested`` fills the
    unmapped ones with the suggestions (nothing is saved until the form is)."""
    editor, problem = await _editor(db, user, box, http, connection_id)
    return _mapping_page(request, user, editor, suggested, done, problem)


@router.post("/{connection_id}/mappings")
async def save_mappings(
    request: Request,
    db: Db,
    user: Writer,
    box: Box,
    http: ChannelHttp,
    connection_id: uuid.UUID,
) -> Response:
    """Replace the mappings through ``set_mappings`` (``PUT /connections/{id}/mappings``)."""
    posted = await request.form()
    rows = await _owned(db, lambda s: mapping_editor(s, user.tenant_id, connection_id))
    typed = {row.id: _field(posted, row.form_name, 129) for row in rows.rooms + rows.plans}
    rooms = [row.id for row in rows.rooms if typed[row.id]]
    plans = [row.id for row in rows.plans if typed[row.id]]
    errors: dict[uuid.UUID, str] = {}
    message = ""
    try:
        data = MappingsWrite(
            room_types=[RoomTypeMappingIn(room_type_id=i, channel_code=typed[i]) for i in rooms],
            rate_plans=[RatePlanMappingIn(rate_plan_id=i, channel_code=typed[i]) for i in plans],
        )
        await db.write(lambda s: service.set_mappings(s, user.tenant_id, connection_id, data))
    except ValidationError as exc:
        message = "The mappings are invalid; nothing was changed."
        for error in exc.errors():
            at = error["loc"]
            if len(at) >= 2 and isinstance(at[1], int):
                errors[(rooms if at[0] == "room_types" else plans)[at[1]]] = error["msg"]
    except NotFoundError as exc:
        raise AdminRefusalError(404, "No such connection.") from exc
    except DomainError as exc:
        rest = []
        for item in exc.problems:
            parts = item.pointer.strip("/").split("/")
            ids = rooms if parts[0] == "room_types" else plans
            if len(parts) >= 2 and parts[1].isdigit() and int(parts[1]) < len(ids):
                errors[ids[int(parts[1])]] = item.detail
            else:
                rest.append(item.detail)
        message = "; ".join([exc.detail, *rest])
    if not message:
        return _back(connection_id, "mappings", "/mappings")
    # Shown again as typed, with each problem beside its row; the channel's list is read
    # again only now, to offer its codes.
    editor, problem = await _editor(db, user, box, http, connection_id)
    for row in editor.rooms + editor.plans:
        row.mapped_to, row.error = typed.get(row.id, ""), errors.get(row.id, "")
    return _mapping_page(
        request,
        user,
        editor,
        False,
        message=" ".join(filter(None, [message, problem])),
        status=422,
    )

"""The webhook fast path (``api.webhook_path``) answers exactly as the routed path did, and the
group commit keeps more than one transaction in flight where the database allows it (issue
#18, items 1 and 2)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session, sessionmaker

from innsync.api.deps import get_database
from innsync.api.throttle import FailureBudget
from innsync.api.webhook_path import InnsyncAPI
from innsync.connections.models import Connection
from innsync.crypto import SecretBox
from innsync.db.engine import session_factory
from innsync.inbox.ingress import GroupCommit, PendingItem
from innsync.inbox.models import InboxItem
from innsync.inbox.service import MAX_WEBHOOK_BYTES, webhook_values
from innsync.settings import Settings
from tests.conftest import Db
from tests.inbound.builders import Hotel, booking, encode, headers, hooks_app, make_hotel

# Generous: how long a writer waits for the other one at the commit.
PATIENCE = 20.0
# Headers that differ between any two answers (the id is new per request unless given).
VARYING = {"x-request-id"}


@pytest.fixture
def hotel(db: Db, secret_box: SecretBox) -> Hotel:
    with db.sessions() as session:
        made = make_hotel(session, secret_box, connections=2)
        session.commit()
    return made


def _app(db: Db, secret_box: SecretBox, *, fast: bool) -> InnsyncAPI:
    settings = Settings(database_url="sqlite://", background_loops=False, webhook_rejected_limit=2)
    app = hooks_app(db.sessions, db.engine, secret_box, settings)
    assert isinstance(app, InnsyncAPI)
    assert app.webhook_fast_path is not None
    if not fast:  # the app as it was: every call through FastAPI's router
        app.webhook_fast_path = None
    # A still clock: a 429's Retry-After counts the seconds left since the first rejection,
    # which on a loaded machine could differ by one between the two apps' calls.
    app.state.webhook_rejections = FailureBudget(
        settings.webhook_rejected_limit, settings.webhook_rejected_window_seconds, clock=lambda: 0.0
    )
    return app


@pytest.fixture
def both(db: Db, secret_box: SecretBox) -> Iterator[tuple[TestClient, TestClient]]:
    """The app with its fast path, and the same app without it, on one database."""
    with (
        TestClient(_app(db, secret_box, fast=True)) as fast,
        TestClient(_app(db, secret_box, fast=False)) as routed,
    ):
        yield fast, routed


def _answer(response: httpx.Response) -> tuple[int, dict[str, str], bytes]:
    kept = {name: value for name, value in response.headers.items() if name not in VARYING}
    return response.status_code, kept, response.content


def _calls(hotel: Hotel, tag: str) -> list[tuple[str, str, bytes, dict[str, str]]]:
    """One of each answer of the route; ``tag`` keeps each app's stored bodies apart."""
    live, other = (f"/hooks/{token}" for token in hotel.tokens)
    body = encode(booking(f"B-{tag}"))
    return [
        ("POST", live, body, headers()),  # stored
        ("POST", live, body, headers()),  # duplicate
        ("POST", live, b"x" * (MAX_WEBHOOK_BYTES + 1), headers()),  # 413
        ("POST", live, body, headers("wrong")),  # 401, counted against the budget
        ("POST", "/hooks/no-such-token", body, headers()),  # 404, counted too
        ("POST", other, body, headers("wrong")),  # past the address's budget: 429
        ("GET", live, b"", {}),  # the probe, routed in both apps
        ("POST", live + "/more", body, headers()),  # not the route: 404 from the router
    ]


def test_every_answer_of_the_fast_path_is_the_routed_answer(
    both: tuple[TestClient, TestClient], hotel: Hotel, db: Db
) -> None:
    fast, routed = both
    answers = {}
    for name, client in (("fast", fast), ("routed", routed)):
        answers[name] = [
            _answer(client.request(method, url, content=body or None, headers=sent))
            for method, url, body, sent in _calls(hotel, name)
        ]

    assert [status for status, _, _ in answers["fast"]] == [200, 200, 413, 401, 404, 429, 200, 404]
    assert answers["fast"] == answers["routed"]
    assert answers["fast"][0][1]["x-frame-options"] == "DENY"
    assert answers["fast"][0][1]["cache-control"] == "no-store"
    with db.sessions() as session:
        statuses = sorted(session.scalars(select(InboxItem.status)))
    # Per app: one stored, one rejected call kept for audit, the 429 never stored.
    assert statuses == ["pending", "pending", "rejected", "rejected"]


class _Tagging:
    """A middleware the fast path does not fold: it must wrap the call as the full app does."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def tagged(message: Any) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message["headers"], (b"x-tag", b"1")]}
            await send(message)

        await self.app(scope, receive, tagged)


def test_an_app_with_other_middlewares_gets_them_on_the_fast_path_too(
    db: Db, secret_box: SecretBox, hotel: Hotel
) -> None:
    apps = [_app(db, secret_box, fast=fast) for fast in (True, False)]
    for app in apps:
        app.add_middleware(_Tagging)
    answers = []
    for tag, app in zip(("fast", "routed"), apps, strict=True):
        with TestClient(app) as client:
            answers.append(
                [
                    _answer(client.request(method, url, content=body or None, headers=sent))
                    for method, url, body, sent in _calls(hotel, tag)
                ]
            )

    assert answers[0] == answers[1]
    assert all(fields["x-tag"] == "1" for _, fields, _ in answers[0])


def test_the_fast_path_keeps_the_request_id_and_counts_the_route(
    both: tuple[TestClient, TestClient], hotel: Hotel
) -> None:
    fast, _ = both
    url = f"/hooks/{hotel.tokens[0]}"
    labels = {"method": "POST", "route": "/hooks/{token}", "status": "200"}
    before = REGISTRY.get_sample_value("innsync_http_requests_total", labels) or 0.0

    answer = fast.post(
        url, content=encode(booking("B1")), headers={**headers(), "X-Request-ID": "pms-42"}
    )

    assert (answer.status_code, answer.headers["x-request-id"]) == (200, "pms-42")
    assert REGISTRY.get_sample_value("innsync_http_requests_total", labels) == before + 1


def test_the_fast_path_does_not_go_through_fastapi(
    db: Db, secret_box: SecretBox, hotel: Hotel
) -> None:
    """A dependency override reaches only routed calls: here it would fail every one of them."""
    app = _app(db, secret_box, fast=True)

    def refuse() -> Any:
        raise RuntimeError("routed through FastAPI")

    app.dependency_overrides[get_database] = refuse
    with TestClient(app) as client:
        answer = client.post(
            f"/hooks/{hotel.tokens[0]}", content=encode(booking("B1")), headers=headers()
        )
    assert answer.json() == {"status": "stored"}


def test_a_call_under_a_path_prefix_is_left_to_fastapi(db: Db, secret_box: SecretBox) -> None:
    """Mounted under a prefix (the server's or the app's ``root_path``), routing strips it
    first: the fast path takes only calls without one."""
    app = _app(db, secret_box, fast=True)
    fast = app.webhook_fast_path
    assert fast is not None
    call = {"type": "http", "method": "POST", "path": "/hooks/abc", "headers": []}

    assert fast.served_for({**call, "root_path": ""}) is not None
    assert fast.served_for({**call, "root_path": "/innsync"}) is None
    app.root_path = "/innsync"
    assert fast.served_for({**call, "root_path": ""}) is None


def test_an_unhandled_error_on_the_fast_path_is_the_apps_500(
    db: Db, secret_box: SecretBox, hotel: Hotel
) -> None:
    """The fast path is ahead of FastAPI's layers, so it has the server-error layer of its own:
    the answer is the routed call's 500 (the app's problem document), and nothing is stored."""

    class Broken:
        def cached(self, token: str) -> None:
            raise RuntimeError("boom")

    answers = []
    for fast in (True, False):
        app = _app(db, secret_box, fast=fast)
        app.state.webhook_receivers = Broken()
        with TestClient(app, raise_server_exceptions=False) as client:
            answers.append(
                _answer(
                    client.post(
                        f"/hooks/{hotel.tokens[0]}",
                        content=encode(booking("B1")),
                        headers=headers(),
                    )
                )
            )

    assert answers[0][0] == 500
    assert answers[0] == answers[1]
    with db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(InboxItem)) == 0


def _pending_items(
    sessions: sessionmaker[Session], secret_box: SecretBox, count: int
) -> list[PendingItem]:
    """``count`` verified calls of a new hotel's connection, ready for a ``GroupCommit``."""
    with sessions() as session:
        hotel = make_hotel(session, secret_box)
        session.commit()
        version = session.get_one(Connection, hotel.connections[0]).updated_at
    items = []
    for number in range(count):
        _, values = webhook_values(
            hotel.connections[0],
            hotel.tenant_id,
            _Accepts(),
            headers(),
            encode(booking(f"B{number}")),
        )
        items.append(PendingItem(hotel.connections[0], version, values))
    return items


def test_what_arrives_while_a_writer_begins_goes_into_its_transaction(
    committed: Engine, secret_box: SecretBox
) -> None:
    """A writer takes its batch once its transaction has begun: on SQLite, once it holds the
    write lock another server process may have. Calls arriving meanwhile share that commit
    instead of waiting for the next one."""
    sessions = session_factory(committed)
    items = _pending_items(sessions, secret_box, 3)
    beginning, may_begin = threading.Event(), threading.Event()
    commits: list[object] = []

    def hold(*_: Any) -> None:  # in the writer's thread, as a wait for the write lock would be
        beginning.set()
        assert may_begin.wait(PATIENCE)

    def count(connection: object) -> None:
        commits.append(connection)

    writer = GroupCommit(sessions)

    async def go() -> list[str]:
        first = asyncio.create_task(writer.store(items[0]))
        assert await asyncio.to_thread(beginning.wait, PATIENCE)
        rest = [asyncio.create_task(writer.store(item)) for item in items[1:]]
        await asyncio.sleep(0)  # both queued
        may_begin.set()
        return list(await asyncio.gather(first, *rest))

    event.listen(committed, "begin", hold)
    event.listen(committed, "commit", count)
    try:
        outcomes = asyncio.run(go())
    finally:
        event.remove(committed, "begin", hold)
        event.remove(committed, "commit", count)

    assert outcomes == ["stored"] * 3
    assert len(commits) == 1  # taken before the wait, B2 and B3 would have needed a second
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(InboxItem)) == 3


def test_a_cancelled_writer_takes_nothing_and_its_items_wait_for_the_next(
    committed: Engine, secret_box: SecretBox
) -> None:
    """A writer whose drain is cancelled while its transaction begins takes no batch (nobody
    would be told its outcome): the queued call is stored, and answered, by the next writer."""
    sessions = session_factory(committed)
    items = _pending_items(sessions, secret_box, 2)
    beginning, may_begin = threading.Event(), threading.Event()

    def hold(*_: Any) -> None:
        beginning.set()
        assert may_begin.wait(PATIENCE)

    writer = GroupCommit(sessions)

    async def go() -> list[str]:
        first = asyncio.create_task(writer.store(items[0]))
        assert await asyncio.to_thread(beginning.wait, PATIENCE)
        (drain,) = writer._lanes[asyncio.get_running_loop()].tasks  # the writer under way
        drain.cancel()
        await asyncio.sleep(0)
        event.remove(committed, "begin", hold)
        may_begin.set()  # the cancelled writer's transaction begins, after its drain was gone
        await asyncio.sleep(0.2)
        assert not first.done()
        second = asyncio.create_task(writer.store(items[1]))
        return list(await asyncio.wait_for(asyncio.gather(first, second), PATIENCE))

    event.listen(committed, "begin", hold)
    try:
        outcomes = asyncio.run(go())
    finally:
        may_begin.set()
        if event.contains(committed, "begin", hold):
            event.remove(committed, "begin", hold)

    assert outcomes == ["stored", "stored"]
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(InboxItem)) == 2


@pytest.mark.backends("postgresql", "mariadb")
def test_two_writers_commit_at_once_and_answer_only_after_their_commits(
    committed: Engine, secret_box: SecretBox
) -> None:
    sessions = session_factory(committed)
    items = _pending_items(sessions, secret_box, 2)
    # Each commit waits, before it is sent, until the other one has come: one writer alone
    # would wait for ever (the barrier breaks after PATIENCE and the test fails).
    committing = threading.Event()
    both_in_flight = threading.Barrier(2, timeout=PATIENCE)

    def hold(*_: Any) -> None:
        committing.set()
        both_in_flight.wait()

    writer = GroupCommit(sessions, writers=2)

    async def go() -> list[str]:
        first = asyncio.create_task(writer.store(items[0]))
        assert await asyncio.to_thread(committing.wait, PATIENCE)
        assert not first.done()  # its transaction is not committed: no answer yet
        second = asyncio.create_task(writer.store(items[1]))
        return list(await asyncio.gather(first, second))

    event.listen(committed, "commit", hold)
    try:
        outcomes = asyncio.run(go())
    finally:
        event.remove(committed, "commit", hold)

    assert outcomes == ["stored", "stored"]
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(InboxItem)) == 2


class _Accepts:
    def verify_webhook(self, headers: Any, body: bytes) -> None:
        del headers, body

    async def parse_webhook(self, headers: Any, body: bytes) -> list[Any]:
        raise AssertionError("not parsed at ingress")

"""Webhook ingress: ``POST /hooks/{token}``, where channels deliver booking messages (a
``GET`` or ``HEAD`` there is a channel probing the URL, answered alike for every token).

The call is verified by the channel's own means and stored raw in the inbox before it is
answered; the processor applies it later. Nothing here calls a channel. Answers say as little
as possible: an unknown or switched-off URL is a plain 404, a failed verification a plain 401.
A stored call gets ``{"status": "stored"|"duplicate"}``, or the answer its channel expects
(``AnswersWebhooks``, e.g. Aiosell's ``{"success": true, ...}``).

``POST`` calls reach ``receive_channel_webhook`` through ``api.webhook_path``, ahead of FastAPI's
router: keep it callable as a plain function (its only dependency is the app's ``Database``).
"""

from __future__ import annotations

import logging
from collections.abc import Coroutine
from functools import partial
from typing import Any, Literal

import httpx
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from innsync.api import problems
from innsync.api.deps import Db
from innsync.api.throttle import FailureBudget, client_address
from innsync.channels.contract import AnswersWebhooks, WebhookAnswer
from innsync.connections.models import Connection
from innsync.connections.service import build_adapter
from innsync.crypto import SecretBox
from innsync.inbox.ingress import GroupCommit, PendingItem, ReceiverCache, WebhookReceiver
from innsync.inbox.service import MAX_WEBHOOK_BYTES, webhook_values
from innsync.settings import Settings

router = APIRouter(tags=["hooks"])
logger = logging.getLogger(__name__)

Outcome = Literal["stored", "duplicate", "rejected", "unknown"]
# A cached receiver, then a fresh one, then once more if the connection changed in between.
STORE_ATTEMPTS = 3
_STATUS_BODIES = {
    outcome: JSONResponse({"status": outcome}).body for outcome in ("stored", "duplicate")
}


@router.head("/hooks/{token}", include_in_schema=False)
@router.get(
    "/hooks/{token}",
    responses={200: {"description": "The URL is served; says nothing about the token"}},
)
async def probe_webhook_url(token: str) -> Response:
    """Channels (Channex's webhook test among them) probe a URL before they POST to it.

    Every token gets the same answer, without a database read: a probe cannot tell a live
    token from an unknown one, nor learn anything about the connection behind it.
    """
    del token  # deliberately unread
    return JSONResponse({"status": "ok"}, headers={"cache-control": "no-store"})


@router.post(
    "/hooks/{token}",
    responses={
        200: {"description": "Stored (or already stored): the channel may stop redelivering"},
        400: {"description": "Stored for audit, but the channel's message cannot be read"},
        401: {"description": "The call failed the channel's verification; kept for audit"},
        404: {"description": "No connection takes webhooks at this URL"},
        408: {"description": "The body did not arrive in time"},
        413: {"description": f"The body exceeds {MAX_WEBHOOK_BYTES} bytes"},
        429: {"description": "Too many rejected calls to this URL or from this address"},
        503: {"description": "The connection changed while the call was stored; try again"},
    },
)
async def receive_channel_webhook(token: str, request: Request, db: Db) -> Response:
    """A channel's webhook: verified, stored raw in the inbox, then answered; processing follows.

    Calls that fail (unknown URL, failed verification) are budgeted per client address and
    per URL: past the budget the answer is 429 with ``Retry-After``, before the body is read,
    so a flood of bad calls neither fills the inbox nor costs a database write.
    """
    rejections: FailureBudget = request.app.state.webhook_rejections
    address, url = f"address:{client_address(request)}", f"url:{token}"
    wait = max(rejections.retry_after(address) or 0, rejections.retry_after(url) or 0)
    if wait:
        return problems.problem(
            429,
            "Too many requests",
            "too many rejected calls; try again later",
            headers={"Retry-After": str(wait)},
        )
    settings: Settings = request.app.state.settings
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_WEBHOOK_BYTES:
        return _too_large()
    body = await request.body()
    if len(body) > MAX_WEBHOOK_BYTES:
        return _too_large()
    headers: dict[str, str] = {}
    for name, value in request.headers.items():  # one pass; ``dict(headers)`` looks each up
        headers.setdefault(name, value)  # the first of a repeated header, as before
    receivers: ReceiverCache = request.app.state.webhook_receivers
    writer: GroupCommit = request.app.state.inbox_writer

    def read() -> Coroutine[Any, Any, WebhookReceiver | None]:
        return db.read(partial(receivers.load, token=token))

    outcome: Outcome = "unknown"
    receiver = receivers.cached(token)
    if receiver is None:  # expired or never read: one read for the calls arriving together
        receiver = await receivers.read_once(token, read)
    fresh = False  # what it was built from may have changed since: a refusal reads again
    for _ in range(STORE_ATTEMPTS):
        if receiver is None:
            receiver = await read()
            fresh = True
            if receiver is None:
                break
        verified, values = webhook_values(
            receiver.connection_id,
            receiver.tenant_id,
            receiver.verifier,
            headers,
            body,
            rejected_body_bytes=settings.webhook_rejected_body_bytes,
        )
        if not verified and not fresh:  # the secret may have changed since this was built
            receivers.forget(token)
            receiver = None
            continue
        written = await writer.store(PendingItem(receiver.connection_id, receiver.version, values))
        if written != "stale":
            outcome = written if verified else "rejected"
            break
        receivers.forget(token)  # the connection changed: build it again from its new state
        receiver = None
    else:
        return problems.problem(
            503,
            "Service unavailable",
            "the connection is being changed; try again",
            headers={"Retry-After": "1"},
        )
    if outcome in ("unknown", "rejected"):
        rejections.record(address)
        if outcome == "rejected":
            rejections.record(url)
        logger.warning(
            "webhook call refused", extra={"outcome": outcome, "client": client_address(request)}
        )
    if outcome == "unknown":
        return problems.problem(404, "Not found", "not found")
    if outcome == "rejected":
        return problems.problem(401, "Unauthorized", "the call could not be verified")
    if receiver is not None and receiver.answerer is not None:
        # Only now: the body is committed before the channel hears it is stored.
        answer = _channel_answer(receiver.answerer, outcome, body)
        return JSONResponse(dict(answer.body), status_code=answer.status_code)
    # The two answers almost every call gets, encoded once (as ``JSONResponse`` renders them).
    return Response(_STATUS_BODIES[outcome], media_type="application/json")


def receiver_adapter(connection: Connection, box: SecretBox) -> object:
    """The adapter that verifies a connection's webhooks (and words its answers).

    A client with its own transport is cheap (no CA bundle) and can make no request.
    """
    return build_adapter(connection, box, httpx.AsyncClient(transport=_RefuseCalls()))


def _channel_answer(
    adapter: AnswersWebhooks, outcome: Literal["stored", "duplicate"], body: bytes
) -> WebhookAnswer:
    """The channel's own answer; a stored call never gets a 5xx (channels retry those)."""
    try:
        answer = adapter.webhook_answer(outcome, body)
    except Exception:  # stored already: a bug here must not cause a redelivery
        logger.exception("webhook answer failed")
        return WebhookAnswer(200, {"status": outcome})
    if answer.status_code >= 500:
        return WebhookAnswer(200, {"status": outcome})
    return answer


def _too_large() -> Response:
    return problems.problem(
        413, "Payload too large", f"webhook bodies are limited to {MAX_WEBHOOK_BYTES} bytes"
    )


class _RefuseCalls(httpx.AsyncBaseTransport):
    """Adapters built here verify a call locally; any request they tried would be a bug."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raise RuntimeError("no channel may be called while a webhook is being received")

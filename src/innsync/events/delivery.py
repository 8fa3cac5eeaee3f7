"""Signed webhook deliveries to the PMS: claim due deliveries, send, record, back off."""

from __future__ import annotations

import json
import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy.orm import Session, sessionmaker

from innsync.backoff import Backoff
from innsync.clock import Clock, utc_now
from innsync.crypto import SecretBox, SecretBoxError, sign
from innsync.db import claims
from innsync.db.engine import transaction
from innsync.events.metrics import WEBHOOK_DELIVERIES
from innsync.events.models import DeliveryStatus, Event, WebhookDelivery, WebhookSubscription
from innsync.outbound import refusal_in

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "Innsync-Signature"
TIMESTAMP_HEADER = "Innsync-Timestamp"
EVENT_ID_HEADER = "Innsync-Event-Id"
# First retry after 10 s, doubling up to every 6 h; with the default 20 attempts a PMS that is
# down for two days still gets everything.
FIRST_RETRY = timedelta(seconds=10)
MAX_RETRY = timedelta(hours=6)
CLAIM_BATCH = 50
DELIVERY_FAILED = "delivery failed: the URL did not answer with a 2xx status"
"""What the tenant reads of any failed attempt. One text, and no status code, whatever went
wrong (refused by the outbound policy, refused connection, time-out, TLS, an HTTP error): a
tenant must not be able to tell an open port from a closed one by subscribing URLs. The
detail goes to the operator's log ("webhook delivery failed")."""


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    """What one send needs, read inside the claiming transaction."""

    delivery_id: int
    url: str
    secret: str
    event_id: int
    body: bytes
    attempt: int


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    """``v1=<hex HMAC-SHA256 over "<timestamp>.<body>">``: the receiver checks both and the age."""
    return "v1=" + sign(secret, f"{timestamp}.".encode() + body)


def event_body(event: Event) -> bytes:
    document: dict[str, Any] = {
        "id": event.id,
        "position": event.position,
        "kind": event.kind,
        "created_at": event.created_at.isoformat(),
        "property_id": str(event.property_id) if event.property_id else None,
        "subject_id": event.subject_id,
        "payload": event.payload,
    }
    return json.dumps(document, separators=(",", ":"), default=str).encode()


def retry_delay(attempt: int, rng: random.Random) -> timedelta:
    """Exponential backoff with jitter of up to a quarter, so retries of many deliveries spread."""
    backoff = Backoff(
        base_seconds=FIRST_RETRY.total_seconds(),
        cap_seconds=MAX_RETRY.total_seconds(),
        jitter_below=0.0,
        jitter_above=0.25,
        rng=rng,
    )
    return backoff.wait(max(attempt - 1, 0))


def claim_due(
    session: Session, box: SecretBox, now: datetime, lease: timedelta, limit: int = CLAIM_BATCH
) -> list[ClaimedDelivery]:
    """Take due deliveries for one lease; rows another worker holds are skipped, not awaited."""
    # If this process dies mid-send, a delivery is due again when the lease runs out.
    due = claims.claim_due(
        session,
        WebhookDelivery,
        WebhookDelivery.next_attempt_at,
        now,
        lease,
        WebhookDelivery.status == DeliveryStatus.PENDING,
        limit=limit,
        order_by=WebhookDelivery.id,
    )
    claimed = []
    for delivery in due:
        subscription = session.get_one(WebhookSubscription, delivery.subscription_id)
        event = session.get_one(Event, delivery.event_id)
        delivery.attempts += 1
        try:
            secret = box.decrypt(subscription.secret_encrypted)
        except SecretBoxError:
            # The key that encrypted this secret was removed: no retry can succeed.
            delivery.status = DeliveryStatus.FAILED
            delivery.last_error = (
                "the subscription secret cannot be decrypted with the current keys"
            )
            continue
        claimed.append(
            ClaimedDelivery(
                delivery_id=delivery.id,
                url=subscription.url,
                secret=secret,
                event_id=event.id,
                body=event_body(event),
                attempt=delivery.attempts,
            )
        )
    return claimed


def send(
    client: httpx.Client, claimed: ClaimedDelivery, now: datetime
) -> tuple[int | None, str | None]:
    """POST one delivery; returns (status code, error text). Any 2xx is success.

    ``client`` is held to the outbound policy (``innsync.outbound.sync_client``) in the loops.
    A failure is (``None``, :data:`DELIVERY_FAILED`); what happened is logged for the operator.
    """
    timestamp = int(now.timestamp())
    headers = {
        "Content-Type": "application/json",
        EVENT_ID_HEADER: str(claimed.event_id),
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature_header(claimed.secret, timestamp, claimed.body),
    }
    try:
        response = client.post(claimed.url, content=claimed.body, headers=headers)
    except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
        # A URL that no longer parses fails this delivery (and is retried, then given up)
        # like an unreachable one; it must not end the delivery loop for every tenant.
        refused = refusal_in(exc)
        _log_failure(claimed, None, str(refused) if refused else type(exc).__name__)
        return None, DELIVERY_FAILED
    if 200 <= response.status_code < 300:
        return response.status_code, None
    _log_failure(claimed, response.status_code, f"HTTP {response.status_code}")
    return None, DELIVERY_FAILED


def _host(url: str) -> str | None:
    try:
        return urlsplit(url).hostname
    except ValueError:
        return None


def _log_failure(claimed: ClaimedDelivery, status: int | None, reason: str) -> None:
    # The URL's query may hold the PMS's own token: the host names the endpoint well enough.
    logger.warning(
        "webhook delivery failed",
        extra={
            "delivery_id": claimed.delivery_id,
            "event_id": claimed.event_id,
            "host": _host(claimed.url),
            "status": status,
            "reason": reason,
        },
    )


def record_outcome(
    session: Session,
    claimed: ClaimedDelivery,
    status_code: int | None,
    error: str | None,
    now: datetime,
    max_attempts: int,
    rng: random.Random,
) -> str:
    """Record one attempt; returns its outcome: ``delivered``, ``retrying`` or ``failed``."""
    delivery = session.get_one(WebhookDelivery, claimed.delivery_id)
    delivery.last_status_code = status_code
    delivery.last_error = error
    if error is None:
        delivery.status, delivery.delivered_at = DeliveryStatus.DELIVERED, now
        return "delivered"
    if delivery.attempts >= max_attempts:
        delivery.status = DeliveryStatus.FAILED
        logger.warning(
            "webhook delivery gave up",
            extra={"delivery_id": delivery.id, "attempts": delivery.attempts},
        )
        return "failed"
    delivery.next_attempt_at = now + retry_delay(delivery.attempts, rng)
    return "retrying"


def deliver_due(
    sessions: sessionmaker[Session],
    client: httpx.Client,
    box: SecretBox,
    *,
    max_attempts: int,
    timeout_seconds: float,
    rng: random.Random | None = None,
    now: datetime | None = None,
    clock: Clock = utc_now,
) -> int:
    """One pass: claim, send outside any transaction, record. Returns deliveries attempted.

    ``now`` fixes the time of the pass (tests); otherwise ``clock`` is read at each step."""
    rng = rng or random.Random()  # noqa: S311  (jitter, not a secret)
    lease = timedelta(seconds=timeout_seconds * 2 + 5)
    with transaction(sessions) as session:
        claimed = claim_due(session, box, now or clock(), lease)
    for item in claimed:
        status_code, error = send(client, item, now or clock())
        with transaction(sessions) as session:
            outcome = record_outcome(
                session, item, status_code, error, now or clock(), max_attempts, rng
            )
        WEBHOOK_DELIVERIES.labels(outcome).inc()
    return len(claimed)

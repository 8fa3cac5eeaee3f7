"""§2.5 webhooks: the subscription envelope with double-encoded ``content``, signed, retried.

Every event goes to each active subscription of its type. The envelope is
``{id, type, reference, createTime, retry, subscription, content, hmac}``: ``content`` is the
payload as a JSON *string*, ``reference`` the accommodation (calendar) or reservation id, and
``hmac`` (name and algorithm configurable, [UNCONFIRMED]) the HMAC of ``content`` keyed with the
app's client secret. OpenAPI ``createSubscription``: HTTP 200 is delivered, 406 stops retrying,
anything else (or no answer) is retried after each of ``webhook_retry_delays_seconds``.
Deliveries go out when the pump ticks; faults can fail, duplicate or hold back (reorder) one.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

import httpx

from innsync.simulators.octorate.state import (
    CALENDAR_FIELDS,
    Attempt,
    Delivery,
    Reservation,
    SimulatorState,
)
from innsync.simulators.octorate.wire import zoned

CALENDAR_EVENT = "PORTAL_SUBSCRIPTION_CALENDAR"


def signature(state: SimulatorState, content: str) -> str:
    """The ``hmac`` of a delivery's ``content`` string, hex digits."""
    key = state.config.client_secret.encode()
    return hmac.new(key, content.encode(), state.config.webhook_hmac_algorithm).hexdigest()


def grouped_days(state: SimulatorState, product_id: int, days: Iterable[date]) -> list[Any]:
    """§2.5: the product's days, those sharing one set of values grouped in one entry."""
    product = state.products[product_id]
    groups: dict[tuple[Any, ...], list[str]] = {}
    for stay_date in sorted(set(days)):
        values = state.day_values(product, stay_date)
        groups.setdefault(tuple(values[name] for name in CALENDAR_FIELDS), []).append(
            stay_date.isoformat()
        )
    return [
        {"days": dates, **dict(zip(CALENDAR_FIELDS, values, strict=True))}
        for values, dates in sorted(groups.items(), key=lambda item: item[1][0])
    ]


class WebhookDispatcher:
    """Queues webhooks for the subscriptions of an event, and delivers them when due."""

    def __init__(self, state: SimulatorState) -> None:
        self.state = state

    def enqueue(self, event: str, reference: str, content: dict[str, Any]) -> list[Delivery]:
        state = self.state
        made = []
        text = json.dumps(content, separators=(",", ":"))
        for subscription in state.subscriptions.values():
            if subscription["type"] != event:
                continue
            sequence = state.next_sequence()
            body: dict[str, Any] = {
                "id": sequence,
                "type": event,
                "reference": reference,
                "createTime": zoned(state.now()),
                "retry": 0,
                "subscription": dict(subscription),
                "content": text,
            }
            if state.config.webhook_hmac_field:
                body[state.config.webhook_hmac_field] = signature(state, text)
            due = state.now()
            faults = state.faults.settings
            if state.delivery_rng.random() < faults.webhook_reorder_rate:
                due += timedelta(seconds=faults.webhook_reorder_delay_seconds)
            delivery = Delivery(sequence, int(subscription["id"]), event, body, due)
            state.deliveries.append(delivery)
            made.append(delivery)
        return made

    def calendar_changed(self, changes: dict[int, set[date]]) -> list[Delivery]:
        """One calendar webhook per connected accommodation whose products changed."""
        state = self.state
        by_accommodation: dict[int, list[dict[str, Any]]] = {}
        for product_id, days in sorted(changes.items()):
            if not days:
                continue
            product = state.products[product_id]
            state.counters["calendar_changes"] += len(days)
            by_accommodation.setdefault(product.accommodation.id, []).append(
                {
                    "id": product_id,
                    "name": product.name,
                    "days": grouped_days(state, product_id, days),
                }
            )
        made = []
        for accommodation_id, data in sorted(by_accommodation.items()):
            if accommodation_id in state.connected:
                made += self.enqueue(CALENDAR_EVENT, str(accommodation_id), {"data": data})
        return made

    def reservation_event(self, event: str, reservation: Reservation) -> list[Delivery]:
        """A RESERVATION_* webhook: the reservation as it is now, ``reference`` its id."""
        if int(reservation["accommodation"]["id"]) not in self.state.connected:
            return []
        return self.enqueue(event, str(reservation["id"]), dict(reservation))

    async def deliver_due(self) -> int:
        """Attempt every delivery that is due, oldest first; how many were attempted."""
        now = self.state.now()
        due = [
            d
            for d in self.state.deliveries
            if d.status == "pending" and d.next_attempt_at is not None and d.next_attempt_at <= now
        ]
        for delivery in sorted(due, key=lambda d: (d.next_attempt_at or now, d.sequence)):
            await self._attempt(delivery)
        return len(due)

    async def _attempt(self, delivery: Delivery) -> None:
        state, config = self.state, self.state.config
        faults = state.faults.settings
        delivery.body["retry"] = len(delivery.attempts)
        status: int | None = None
        error: str | None = None
        if state.delivery_rng.random() < faults.webhook_failure_rate:
            error = "injected failure"
        else:
            status, error = await self._post(delivery)
        delivery.attempts.append(Attempt(state.now(), status, error))
        if status == 200:
            delivery.status = "delivered"
            delivery.next_attempt_at = None
            if state.delivery_rng.random() < faults.webhook_duplicate_rate:
                again, why = await self._post(delivery)
                delivery.attempts.append(Attempt(state.now(), again, why))
            return
        retries = config.webhook_retry_delays_seconds
        if status == 406 or len(delivery.attempts) > len(retries):
            delivery.status = "refused" if status == 406 else "exhausted"
            delivery.next_attempt_at = None
        else:
            wait = retries[len(delivery.attempts) - 1]
            delivery.next_attempt_at = state.now() + timedelta(seconds=wait)

    async def _post(self, delivery: Delivery) -> tuple[int | None, str | None]:
        config = self.state.config
        subscription = self.state.subscriptions.get(delivery.subscription_id)
        if subscription is None:
            return None, "subscription deleted"
        try:
            async with httpx.AsyncClient(
                transport=config.webhook_transport, timeout=config.webhook_timeout_seconds
            ) as client:
                response = await client.post(str(subscription["endpoint"]), json=delivery.body)
        except httpx.HTTPError as exc:
            return None, type(exc).__name__
        return response.status_code, None

"""§2.8 booking webhooks (version 2): the booking as it is now, POSTed with the customHeader lines.

Deliveries wait ``webhook_delay_seconds`` (Beds24 averages about a minute) and are retried
after each delay of ``webhook_retry_delays_seconds`` on no answer or HTTP >= 400. Faults can
fail, duplicate or hold back (reorder) a delivery.
"""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import httpx

from innsync.simulators.beds24.state import Attempt, Booking, Delivery, SimulatorState

# §2.8: guest fields appear only with version twoWithPersonalData.
PERSONAL_FIELDS = (
    "title", "firstName", "lastName", "email", "phone", "mobile", "fax", "company", "address",
    "city", "state", "postcode",
)  # fmt: skip


def custom_headers(lines: str) -> dict[str, str]:
    """§2.7 ``customHeader``: "name: value", one per line."""
    headers = {}
    for line in lines.splitlines():
        name, colon, value = line.partition(":")
        if colon and name.strip():
            headers[name.strip()] = value.strip()
    return headers


class WebhookDispatcher:
    """Queues and delivers the property's booking webhooks."""

    def __init__(self, state: SimulatorState) -> None:
        self.state = state

    def body_of(self, booking: Booking, version: str) -> dict[str, Any]:
        shown = copy.deepcopy(booking)
        if version == "twoNoPersonalData":
            for name in PERSONAL_FIELDS:
                shown.pop(name, None)
        return {
            "timeStamp": self.state.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
            "booking": shown,
            "infoItems": [],
            "invoiceItems": [],
            "messages": [],
            "retries": 0,
        }

    async def enqueue(self, booking: Booking) -> Delivery | None:
        """Queue a webhook for the booking's current state; delivered now when there is no delay."""
        config = self.state.config
        hook = self.state.webhooks.get(int(booking["propertyId"]))
        if hook is None or not hook.get("url") or hook.get("version") == "one":
            return None  # version 1 (GET with bookid) is not simulated
        due = self.state.now() + timedelta(seconds=config.webhook_delay_seconds)
        if self.state.delivery_rng.random() < self.state.faults.settings.webhook_reorder_rate:
            due += timedelta(seconds=self.state.faults.settings.webhook_reorder_delay_seconds)
        delivery = Delivery(
            sequence=self.state.next_sequence(),
            booking_id=int(booking["id"]),
            body=self.body_of(booking, str(hook.get("version"))),
            next_attempt_at=due,
        )
        self.state.deliveries.append(delivery)
        if due <= self.state.now():
            await self._attempt(delivery)
        return delivery

    async def tick(self) -> dict[str, int]:
        """Attempt every delivery that is due, oldest first."""
        now = self.state.now()
        due = [
            d
            for d in self.state.deliveries
            if d.status == "pending" and d.next_attempt_at is not None and d.next_attempt_at <= now
        ]
        for delivery in sorted(due, key=lambda d: (d.next_attempt_at or now, d.sequence)):
            await self._attempt(delivery)
        return {"attempted": len(due)}

    async def _attempt(self, delivery: Delivery) -> None:
        state, config = self.state, self.state.config
        faults = state.faults.settings
        delivery.body["retries"] = len(delivery.attempts)
        status: int | None = None
        error: str | None = None
        if state.delivery_rng.random() < faults.webhook_failure_rate:
            error = "injected failure"
        else:
            status, error = await self._post(
                delivery.body, int(delivery.body["booking"]["propertyId"])
            )
        delivery.attempts.append(Attempt(state.now(), status, error))
        if status is not None and status < 400:
            delivery.status = "delivered"
            delivery.next_attempt_at = None
            if state.delivery_rng.random() < faults.webhook_duplicate_rate:
                again, why = await self._post(
                    delivery.body, int(delivery.body["booking"]["propertyId"])
                )
                delivery.attempts.append(Attempt(state.now(), again, why, is_duplicate=True))
            return
        retries = config.webhook_retry_delays_seconds
        failed = sum(1 for attempt in delivery.attempts if not attempt.is_duplicate)
        if failed > len(retries):
            delivery.status = "exhausted"
            delivery.next_attempt_at = None
        else:
            delivery.next_attempt_at = state.now() + timedelta(seconds=retries[failed - 1])

    async def _post(self, body: dict[str, Any], property_id: int) -> tuple[int | None, str | None]:
        config = self.state.config
        hook = self.state.webhooks.get(property_id)
        if hook is None or not hook.get("url"):
            return None, "no webhook URL"
        headers = custom_headers(str(hook.get("customHeader") or ""))
        try:
            async with httpx.AsyncClient(
                transport=config.webhook_transport, timeout=config.webhook_timeout_seconds
            ) as client:
                response = await client.post(str(hook["url"]), json=body, headers=headers)
        except httpx.HTTPError as exc:
            return None, type(exc).__name__
        return response.status_code, None

"""Sending reservations to the PMS URL, with retries, duplicates and reordering (§1.10).

A delivery is due at once unless the reorder fault holds it back
(`webhook_reorder_delay_seconds`), so later ones overtake it. Each attempt may be dropped by the
failure fault (as if the connection failed) and may be sent twice by the duplicate fault. A 2xx
whose body says `"success": true` is delivered; a 5xx or a connection failure is retried after
`webhook_retry_delays_seconds`; anything else is failed, unless `retries_rejections` is set.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from innsync.simulators.aiosell import reservations
from innsync.simulators.aiosell.state import Attempt, Delivery, SimulatorState


class WebhookDispatcher:
    """Queues reservation events and POSTs them to the configured PMS URL."""

    def __init__(self, state: SimulatorState) -> None:
        self.state = state

    def publish(self, reservation: dict[str, Any]) -> Delivery:
        state = self.state
        body = reservation
        if state.config.webhook_payload == "new_booking":
            body = reservations.new_booking_payload(state, reservation)
        now = state.now()
        due = now
        if state.delivery_rng.random() < state.faults.settings.webhook_reorder_rate:
            due = now + timedelta(seconds=state.faults.settings.webhook_reorder_delay_seconds)
        delivery = Delivery(
            sequence=state.next_sequence(),
            booking_id=str(reservation["bookingId"]),
            action=str(reservation["action"]),
            body=body,
            next_attempt_at=due if state.config.webhook_url else None,
            status="pending" if state.config.webhook_url else "no_url",
        )
        state.deliveries.append(delivery)
        return delivery

    def _client(self) -> httpx.AsyncClient:
        config = self.state.config
        auth = None
        if config.webhook_username is not None:
            auth = httpx.BasicAuth(config.webhook_username, config.webhook_password or "")
        return httpx.AsyncClient(
            transport=config.webhook_transport, auth=auth, timeout=config.webhook_timeout_seconds
        )

    async def _post(
        self, client: httpx.AsyncClient, delivery: Delivery, *, is_duplicate: bool
    ) -> Attempt:
        url = self.state.config.webhook_url or ""
        at = self.state.now()
        try:
            response = await client.post(url, json=delivery.body)
        except httpx.HTTPError as exc:
            return Attempt(at, None, f"{type(exc).__name__}: {exc}", is_duplicate)
        error = None
        if response.is_success:
            try:
                answer = response.json()
            except ValueError:
                answer = None
            if not (isinstance(answer, dict) and answer.get("success") is True):
                error = 'reply is not {"success": true}'
        return Attempt(at, response.status_code, error, is_duplicate)

    async def _attempt(self, client: httpx.AsyncClient, delivery: Delivery) -> None:
        state = self.state
        settings = state.faults.settings
        is_dropped = state.delivery_rng.random() < settings.webhook_failure_rate
        is_doubled = state.delivery_rng.random() < settings.webhook_duplicate_rate
        if is_dropped:
            attempt = Attempt(state.now(), None, "injected failure: not sent")
        else:
            attempt = await self._post(client, delivery, is_duplicate=False)
        delivery.attempts.append(attempt)
        if is_doubled and not is_dropped:
            delivery.attempts.append(await self._post(client, delivery, is_duplicate=True))
        status = attempt.status_code
        if status is not None and 200 <= status < 300 and attempt.error is None:
            delivery.status, delivery.next_attempt_at = "delivered", None
            return
        is_retryable = status is None or status >= 500 or state.config.retries_rejections
        retries_done = len([a for a in delivery.attempts if not a.is_duplicate]) - 1
        delays = state.config.webhook_retry_delays_seconds
        if not is_retryable:
            delivery.status, delivery.next_attempt_at = "failed", None
        elif retries_done >= len(delays):
            delivery.status, delivery.next_attempt_at = "exhausted", None
        else:
            delivery.next_attempt_at = state.now() + timedelta(seconds=delays[retries_done])

    async def deliver_due(self) -> int:
        """Attempt every delivery that is due, earliest first; how many were attempted."""
        state = self.state
        now = state.now()
        due = sorted(
            (
                d
                for d in state.deliveries
                if d.status == "pending" and d.next_attempt_at and d.next_attempt_at <= now
            ),
            key=lambda d: (d.next_attempt_at, d.sequence),
        )
        if not due:
            return 0
        async with self._client() as client:
            for delivery in due:
                await self._attempt(client, delivery)
        return len(due)

    async def tick(self) -> dict[str, int]:
        return {"deliveries_attempted": await self.deliver_due()}

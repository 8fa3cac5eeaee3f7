"""Webhook delivery (§1.7): matching subscriptions, retries, injected duplicates and reordering."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from innsync.simulators.channex.state import (
    BookingRevision,
    Delivery,
    DeliveryAttempt,
    SimulatorState,
)

# §1.7: every documented event name.
DOCUMENTED_EVENTS = frozenset(
    (
        "ari",
        "booking",
        "booking_new",
        "booking_modification",
        "booking_cancellation",
        "booking_unmapped_room",
        "booking_unmapped_rate",
        "non_acked_booking",
        "sync_error",
        "sync_warning",
        "rate_error",
        "message",
        "review",
        "updated_review",
        "reservation_request",
        "alteration_request",
        "accepted_reservation",
        "declined_reservation",
        "inquiry",
        "new_channel",
        "updated_channel",
        "disconnected_channel",
        "disconnect_listing",
    )
)
STATUS_EVENTS = {
    "new": "booking_new",
    "modified": "booking_modification",
    "cancelled": "booking_cancellation",
}


def mask_matches(mask: str, event: str, multi_event: bool) -> bool:
    """Whether an `event_mask` (§1.7) selects an event; `ari:...` masks select `ari`."""
    if mask == "*":
        return True
    parts = mask.split(";") if multi_event else [mask]
    return any(part.split(":", 1)[0] == event for part in parts)


def _timestamp(moment: datetime) -> str:
    # §1.9: the webhook timestamp ends in Z, unlike booking timestamps.
    return str(moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))


class WebhookDispatcher:
    """Turns simulator events into deliveries and POSTs them when they fall due."""

    def __init__(self, state: SimulatorState) -> None:
        self.state = state

    def _subscribed(self, event: str, property_id: str) -> list[dict[str, Any]]:
        config = self.state.config
        chosen: list[dict[str, Any]] = []
        for webhook in self.state.webhooks.values():
            attributes = {"id": webhook.id, **webhook.attributes}
            owner = attributes["property_id"]
            is_global = owner is None and config.webhook_global_subscriptions
            if not attributes["is_active"] or (owner != property_id and not is_global):
                continue
            if mask_matches(attributes["event_mask"], event, config.webhook_multi_event_masks):
                chosen.append(attributes)
        return chosen

    def publish(self, event: str, property_id: str, payload: Any) -> list[Delivery]:
        """Queue one event for every active subscription whose mask selects it."""
        state = self.state
        now = state.now()
        created: list[Delivery] = []
        for webhook in self._subscribed(event, property_id):
            # §1.7 envelope; with send_data false the payload key is removed.
            body: dict[str, Any] = {
                "event": event,
                "payload": payload,
                "property_id": property_id,
                "user_id": None,
                "timestamp": _timestamp(now),
            }
            if not webhook["send_data"]:
                del body["payload"]
            url = httpx.URL(webhook["callback_url"]).copy_merge_params(webhook["request_params"])
            # Drawn for every delivery, so the reorder sequence depends only on the seed.
            held = state.webhook_rng.random() < state.faults.settings.webhook_reorder_rate
            delay = state.faults.settings.webhook_reorder_delay_seconds if held else 0.0
            delivery = Delivery(
                id=state.new_id(),
                sequence=state.next_sequence(),
                webhook_id=webhook["id"],
                event=event,
                url=str(url),
                headers={"content-type": "application/json", **webhook["headers"]},
                body=body,
                created_at=now,
                next_attempt_at=now + timedelta(seconds=delay),
            )
            state.deliveries.append(delivery)
            created.append(delivery)
        return created

    def publish_revision(self, revision: BookingRevision) -> list[Delivery]:
        """§1.7: `booking` for every revision, its status event, and unmapped room/rate events."""
        trigger = {
            "booking_id": revision.booking_id,
            "property_id": revision.property_id,
            "revision_id": revision.id,
        }
        created = self.publish("booking", revision.property_id, trigger)
        created += self.publish(STATUS_EVENTS[revision.status], revision.property_id, trigger)
        rooms = revision.attributes["rooms"]
        unmapped = {"booking_id": revision.booking_id, "booking_revision_id": revision.id}
        if any(room["room_type_id"] is None for room in rooms):
            created += self.publish("booking_unmapped_room", revision.property_id, unmapped)
        elif any(room["rate_plan_id"] is None for room in rooms):
            created += self.publish("booking_unmapped_rate", revision.property_id, unmapped)
        return created

    def scan_non_acked(self) -> int:
        """Publish `non_acked_booking` once for each revision unacked past the delay (§1.7)."""
        state = self.state
        now = state.now()
        due_before = now - timedelta(seconds=state.config.non_acked_delay_seconds)
        published = 0
        for revision in state.revisions.values():
            if (
                revision.acked_at
                or revision.non_acked_notified_at
                or revision.inserted_at > due_before
            ):
                continue
            revision.non_acked_notified_at = now
            # The payload is undocumented; the booking trigger's ids are what a client needs.
            trigger = {
                "booking_id": revision.booking_id,
                "property_id": revision.property_id,
                "revision_id": revision.id,
            }
            self.publish("non_acked_booking", revision.property_id, trigger)
            published += 1
        return published

    async def deliver_due(self) -> int:
        """POST every due delivery, oldest first; returns the number of attempts made."""
        state = self.state
        now = state.now()
        due = sorted(
            (d for d in state.deliveries if d.status == "pending" and d.next_attempt_at <= now),
            key=lambda d: (d.next_attempt_at, d.sequence),
        )
        # Claimed before the first await, so a concurrent pump never sends them twice.
        for delivery in due:
            delivery.status = "in_flight"
        attempts = 0
        if not due:
            return attempts
        config = state.config
        async with httpx.AsyncClient(
            transport=config.webhook_transport, timeout=config.webhook_timeout_seconds
        ) as client:
            for delivery in due:
                attempts += await self._attempt(client, delivery)
        return attempts

    async def _post(
        self, client: httpx.AsyncClient, delivery: Delivery
    ) -> tuple[int | None, str | None]:
        try:
            response = await client.post(
                delivery.url, content=json.dumps(delivery.body), headers=delivery.headers
            )
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}"
        return response.status_code, None

    async def _attempt(self, client: httpx.AsyncClient, delivery: Delivery) -> int:
        state = self.state
        faults = state.faults.settings
        # Both numbers are drawn on every attempt so the sequence depends only on the seed.
        fail_roll, duplicate_roll = state.webhook_rng.random(), state.webhook_rng.random()
        if fail_roll < faults.webhook_failure_rate:
            delivery.attempts.append(DeliveryAttempt(state.now(), None, "injected failure", False))
            self._retry_or_give_up(delivery)
            return 1
        status, error = await self._post(client, delivery)
        delivery.attempts.append(DeliveryAttempt(state.now(), status, error, False))
        if status is None or not 200 <= status < 300:
            self._retry_or_give_up(delivery)
            return 1
        delivery.status = "delivered"
        if duplicate_roll < faults.webhook_duplicate_rate:
            status, error = await self._post(client, delivery)
            delivery.attempts.append(DeliveryAttempt(state.now(), status, error, True))
            return 2
        return 1

    def _retry_or_give_up(self, delivery: Delivery) -> None:
        """§1.7: a failed delivery is rescheduled; the schedule itself is a config option."""
        delays = self.state.config.webhook_retry_delays_seconds
        failures = sum(1 for attempt in delivery.attempts if not attempt.is_duplicate)
        if failures > len(delays):
            delivery.status = "failed"
            return
        delivery.status = "pending"
        delivery.next_attempt_at = self.state.now() + timedelta(seconds=delays[failures - 1])

    async def tick(self) -> dict[str, int]:
        """One run of the pump: due non_acked_booking events, then due deliveries."""
        non_acked = self.scan_non_acked()
        attempts = await self.deliver_due()
        return {"non_acked_published": non_acked, "attempts": attempts}

    async def send_test(self, webhook: dict[str, Any]) -> dict[str, Any]:
        """POST /webhooks/test: send a sample event now and report what the endpoint answered."""
        state = self.state
        body: dict[str, Any] = {
            "event": "test",
            "payload": {},
            "property_id": webhook.get("property_id"),
            "user_id": None,
            "timestamp": _timestamp(state.now()),
        }
        url = httpx.URL(webhook["callback_url"]).copy_merge_params(
            webhook.get("request_params") or {}
        )
        headers = {"content-type": "application/json", **(webhook.get("headers") or {})}
        async with httpx.AsyncClient(
            transport=state.config.webhook_transport, timeout=state.config.webhook_timeout_seconds
        ) as client:
            try:
                response = await client.post(url, content=json.dumps(body), headers=headers)
            except httpx.HTTPError as exc:
                return {"status_code": None, "body": f"{type(exc).__name__}: {exc}"}
        return {"status_code": response.status_code, "body": response.text}

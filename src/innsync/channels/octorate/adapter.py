"""The Octorate adapter (Connect API v1, https://api.octorate.com/connect/): innsync as the OTA.

A marketplace's hotels keep their ARI in Octorate. Per hotel (one connection, one accommodation
the hotel picked after approving the app by OAuth) innsync:

- reads the ARI (``SourcesAri``): room types and rates (``/rest/v3/roomrates``), then the
  calendar over the window; and takes the ``PORTAL_SUBSCRIPTION_CALENDAR`` webhook between pulls;
- pushes marketplace bookings (``PushesReservations``) with innsync's reservation id as the
  reference that makes a push idempotent, and modifies and cancels them;
- learns the hotel's answer (``ConfirmsBookings``) by reading the reservation, or from the
  ``RESERVATION_CONFIRMED`` / rejection webhook;
- subscribes its webhook endpoint (``RegistersWebhooks``).

Calls are charged per accommodation (§2.6: 100 per 5 minutes, [3P]); innsync's shared limiter
spends one call per operation, and an operation makes at most :data:`CALLS_PER_OPERATION`
charged calls (a pull reads room rates and the calendar; a modification or a cancellation first
finds the reservation by its reference), so the declared limit is the quota divided by it.
Facts and their confidence: ``shared/channels/octorate.md``; unconfirmed ones are settings
(``config.py``, ``CHECKLIST.yaml``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from innsync.channels.contract import WebhookMessage
from innsync.channels.credentials import CredentialStore
from innsync.channels.errors import ChannelRejectedError, ChannelUnavailableError
from innsync.channels.http import WallClock
from innsync.channels.octorate import mapping, webhooks
from innsync.channels.octorate.client import OctorateClient
from innsync.channels.octorate.config import OctorateApp, OctorateConfig
from innsync.channels.subscriptions import plan_subscriptions
from innsync.channels.types import (
    AriSnapshot,
    BookingAnswer,
    BookingConfirmation,
    BookingRevision,
    ChannelLimits,
)
from innsync.stay_dates import DateRange

# Charged calls one operation makes at most (see the module docstring).
CALLS_PER_OPERATION = 2


class OctorateAdapter:
    """One hotel's Octorate accommodation, reached with the token its owner granted."""

    name = "octorate"

    def __init__(
        self,
        config: OctorateConfig,
        app: OctorateApp,
        http: httpx.AsyncClient,
        *,
        credentials: CredentialStore,
        now: WallClock,
    ) -> None:
        self.config = config
        self.app = app
        self.client = OctorateClient(config, app, http, credentials=credentials, now=now)

    @property
    def limits(self) -> ChannelLimits:
        return ChannelLimits(
            requests_per_window=max(self.config.quota_calls // CALLS_PER_OPERATION, 1),
            window_seconds=self.config.quota_window_seconds,
            window_scope="property",
            separate_budgets=False,
        )

    def _accommodation(self) -> int:
        accommodation = self.config.accommodation_id
        if accommodation is None:
            raise ChannelRejectedError(
                "the connection has no accommodation_id yet: pick one of those the OAuth "
                "callback listed and set it on the connection"
            )
        return accommodation

    async def test_connection(self) -> None:
        """The token works and, once picked, the accommodation is among those it sees."""
        seen = {str(item.get("id")) for item in await self.client.accommodations()}
        picked = self.config.accommodation_id
        if picked is not None and str(picked) not in seen:
            raise ChannelRejectedError(
                f"the hotel's Octorate token does not see accommodation {picked}"
            )

    async def list_accommodations(self) -> list[dict[str, str]]:
        """The accommodations the token sees, ``[{id, name}]``, for the hotel to pick one."""
        return [
            {"id": str(item.get("id")), "name": str(item.get("name") or "")}
            for item in await self.client.accommodations()
        ]

    # SourcesAri.

    async def pull_ari(self, window: DateRange) -> AriSnapshot:
        accommodation = self._accommodation()
        rooms = await self.client.call(
            "GET", self.config.roomrates_path.format(accommodation=accommodation)
        )
        if not isinstance(rooms, list):
            raise ChannelUnavailableError("Octorate listed room rates in an unknown shape")
        catalog = mapping.catalog_of(accommodation, rooms)
        products = await self.client.pages(
            f"/rest/v1/calendar/{accommodation}", mapping.window_params(window)
        )
        return mapping.snapshot_of(catalog, mapping.read_days(products))

    # PushesReservations.

    async def push_reservation(self, revision: BookingRevision) -> str:
        """Create (same reference: the same reservation, never a second), modify or cancel."""
        accommodation = self._accommodation()
        if not revision.rooms:
            raise ChannelRejectedError("an Octorate reservation needs a room")
        if len(revision.rooms) > 1:
            raise ChannelRejectedError("an Octorate reservation holds one room; book them apart")
        room = revision.rooms[0]
        product = _product(room.rate_plan_code or room.room_type_code)
        path = f"/rest/v1/reservation/{accommodation}"
        created = await self.client.call(
            "POST", path, body=mapping.reservation_body(revision, self.config, product)
        )
        reservation_id = _reservation_id(created)
        if revision.status == "modified":
            body = mapping.modification_body(revision, self.config, product)
            await self.client.call("PUT", f"{path}/{reservation_id}", body=body)
        elif revision.status == "cancelled":
            if self.config.cancel_by == "delete":
                await self.client.call("DELETE", f"{path}/{reservation_id}")
            else:
                cancel = {"status": self.config.status_cancelled}
                await self.client.call("PUT", f"{path}/{reservation_id}", body=cancel)
        return reservation_id

    # ConfirmsBookings.

    async def booking_status(self, channel_booking_id: str) -> BookingConfirmation:
        accommodation = self._accommodation()
        held = await self.client.call(
            "GET", f"/rest/v1/reservation/{accommodation}/{_product(channel_booking_id)}"
        )
        if not isinstance(held, dict):
            raise ChannelUnavailableError("Octorate read a reservation in an unknown shape")
        return mapping.confirmation_of(held, self.config)

    # ReceivesWebhooks.

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> None:
        webhooks.verify(self.config, self.app.client_secret, body)

    async def parse_webhook(
        self, headers: Mapping[str, str], body: bytes
    ) -> Sequence[WebhookMessage]:
        """The calendar's ARI, or the hotel's answer to a pushed booking; events for another
        accommodation (the app's subscriptions hear about every hotel) stand for nothing."""
        envelope = webhooks.envelope_of(body)
        event = envelope["type"]
        accommodation = self._accommodation()
        if event == webhooks.CALENDAR_EVENT:
            if str(envelope.get("reference")) != str(accommodation):
                return ()
            days = mapping.webhook_days(mapping.decoded_content(envelope))
            return (mapping.webhook_snapshot(days),)
        if event in webhooks.RESERVATION_EVENTS:
            content = mapping.decoded_content(envelope)
            if webhooks.accommodation_of_reservation(content) != accommodation:
                return ()
            answer = mapping.confirmation_of(content, self.config)
            if answer.state == "pending":
                return ()
            return (BookingAnswer(str(_reservation_id(content)), answer),)
        return ()

    # RegistersWebhooks.

    async def register_webhooks(self, callback_url: str) -> int:
        """Subscribe ``callback_url`` to the calendar and to the hotel's answers (same pair
        again: nothing new); returns how many subscriptions were created.

        Octorate sends each event to every subscription of the app, so each one costs a
        delivery per connected hotel: only the events innsync acts on are subscribed (created
        and changed reservations are still waiting for the hotel)."""
        wanted = tuple(
            dict.fromkeys(
                (webhooks.CALENDAR_EVENT, "RESERVATION_CONFIRMED", self.config.rejected_event)
            )
        )
        held = await self.client.call("GET", "/rest/v1/subscription")
        existing = (
            [item for item in held if isinstance(item, dict)] if isinstance(held, list) else []
        )
        plan = plan_subscriptions(
            wanted,
            [item for item in existing if item.get("endpoint") == callback_url],
            wanted_key=lambda event: event,
            existing_key=lambda item: item.get("type"),
            is_current=lambda _item, _event: True,
            is_ours=lambda _item: False,
        )
        for event in plan.create:
            await self.client.form("POST", f"/rest/v1/subscription/{event}", {"url": callback_url})
        return plan.changes


def _product(code: str) -> int:
    """Octorate ids are numbers; a code that is not one was never Octorate's."""
    if not code.isdigit():
        raise ChannelRejectedError(f"{code!r} is not an Octorate id")
    return int(code)


def _reservation_id(answer: Any) -> str:
    value = answer.get("id") if isinstance(answer, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        raise ChannelUnavailableError("Octorate answered a reservation without its id")
    return str(value)

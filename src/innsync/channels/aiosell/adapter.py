"""The Aiosell adapter: inventory, rates and restrictions out; reservation pushes in.

Speaks Aiosell's PMS integration API (https://live.aiosell.com/api/v2/cm), documented in the
Aiosell help centre (https://support.aiosell.com/portal/en/kb/articles/, articles
``inventory-push-from-pms-to-aiosell``, ``rates-push-from-pms-to-aiosell``,
``rates-restrictions-push-from-pms-to-aiosell``, ``reservationpost``) and summarised with
sources in innsync's ``shared/channels/aiosell.md`` (section numbers below point there).
``CHECKLIST.yaml`` tracks what is done.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import timedelta
from zoneinfo import ZoneInfo

import httpx

from innsync.channels.aiosell.client import AiosellClient, AiosellReply
from innsync.channels.aiosell.config import AiosellConfig
from innsync.channels.aiosell.mapping import (
    availability_body,
    entry_results,
    rates_bodies,
    revision_from_body,
    revisions_from_fetch,
)
from innsync.channels.aiosell.webhooks import (
    UNREADABLE_STATUS,
    WEBHOOK_REPLY,
    verify_basic_auth,
)
from innsync.channels.contract import StoredOutcome, WebhookAnswer
from innsync.channels.errors import ChannelRejectedError
from innsync.channels.http import WallClock, utc_now
from innsync.channels.types import (
    AvailabilityUpdate,
    BookingCancellation,
    BookingRevision,
    ChannelLimits,
    ChannelNotice,
    PushRequest,
    PushResult,
    RateUpdate,
    RevisionPage,
)

logger = logging.getLogger(__name__)

AIOSELL_LIMITS = ChannelLimits(
    # §1.13 (3P, unconfirmed): "≤ 30 updates per second", counted per partner account.
    requests_per_window=30,
    window_seconds=1.0,
    window_scope="account",
    separate_budgets=False,
    # §1.13: no documented payload size or entry limit.
    max_request_bytes=None,
    max_entries_per_request=None,
    # §1.5: startDate/endDate ranges; no weekday filter is documented, so none is claimed.
    understands_ranges=True,
    understands_weekdays=False,
    # §1.8 (inferred from the examples): partial restriction objects; a rate entry sets only
    # `rate`. Occupancy prices are separate rateplanCodes (§1.7), so one left out keeps its own.
    accepts_partial_rates=True,
    accepts_partial_occupancy_prices=True,
)


class AiosellAdapter:
    """One Aiosell property (``hotel_code``) of one partner account."""

    name = "aiosell"

    def __init__(
        self, config: AiosellConfig, http: httpx.AsyncClient, *, now: WallClock = utc_now
    ) -> None:
        self.config = config
        self._now = now
        self._client = AiosellClient(config, http, now=now)

    @property
    def limits(self) -> ChannelLimits:
        return AIOSELL_LIMITS

    @property
    def cancellations_are_final(self) -> bool:
        """§1.10: pushes carry no revision time, so a late modify must not undo a cancel."""
        return True

    async def test_connection(self) -> None:
        """§1.9: fetch one day of inventory; proves the credentials, partner and hotel code.

        The fetch endpoint only reads, so the test changes nothing on the channel.
        """
        today = self._now().astimezone(ZoneInfo(self.config.timezone)).date().isoformat()
        await self._client.fetch(
            {
                "type": "inventory",
                "hotelCode": self.config.hotel_code,
                "startDate": today,
                "endDate": today,
            }
        )

    async def push_availability(self, request: PushRequest[AvailabilityUpdate]) -> PushResult:
        """§1.5: one inventory call for the whole request."""
        body = availability_body(self.config.hotel_code, request.updates)
        reply = await self._client.update_inventory(body)
        every = set(range(len(request.updates)))
        return PushResult(entry_results(len(request.updates), [(every, reply)]))

    async def push_rates(self, request: PushRequest[RateUpdate]) -> PushResult:
        """§1.7 and §1.8: one rates call and one rate-restrictions call, each when needed."""
        rates, restrictions, (in_rates, in_restrictions) = rates_bodies(
            self.config.hotel_code,
            request.updates,
            self.config.occupancy_rate_plans,
            self.config.to_channels,
        )
        answers: list[tuple[set[int], AiosellReply]] = []
        if rates is not None:
            answers.append((in_rates, await self._client.update_rates(rates)))
        if restrictions is not None:
            answers.append((in_restrictions, await self._client.update_rates(restrictions)))
        return PushResult(entry_results(len(request.updates), answers))

    @property
    def pull_interval_seconds(self) -> float:
        return self.config.pull_interval_seconds

    async def pull_revisions(self, cursor: str | None) -> RevisionPage:
        """§1.9 ``type: reservation``: the latest state of every reservation staying from
        yesterday to ``pull_window_days`` ahead, for the reconciler to catch lost pushes.

        The fetch has no change cursor, so each pull reads the window whole (``cursor`` is
        unused and none is returned); the inbox keeps each state once (its revision id is a
        digest of its content, the same as the push's). A state is ordered like a push: a
        ``book`` by ``bookedOn``, a ``modify`` or ``cancel`` by when it is read.
        """
        del cursor
        zone = ZoneInfo(self.config.timezone)
        now = self._now()
        today = now.astimezone(zone).date()
        answer = await self._client.fetch(
            {
                "type": "reservation",
                "hotelCode": self.config.hotel_code,
                "startDate": (today - timedelta(days=1)).isoformat(),
                "endDate": (today + timedelta(days=self.config.pull_window_days)).isoformat(),
            }
        )
        revisions, skipped = revisions_from_fetch(
            answer, received_at=now, currency=self.config.currency, zone=zone
        )
        if skipped:
            logger.warning("aiosell fetch entries left out", extra={"skipped": skipped})
        return RevisionPage(revisions, None)

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> None:
        """§1.3: the push must carry the configured Basic auth pair."""
        del body  # nothing in the body can prove where it came from
        password = self.config.webhook_password
        verify_basic_auth(
            headers,
            self.config.webhook_username,
            None if password is None else password.get_secret_value(),
        )

    async def parse_webhook(
        self, headers: Mapping[str, str], body: bytes
    ) -> Sequence[BookingRevision | BookingCancellation | ChannelNotice]:
        """§1.10/§1.11: one push is one booking revision (a short cancel names the booking)."""
        del headers
        return (self._read(body),)

    def webhook_answer(self, outcome: StoredOutcome, body: bytes) -> WebhookAnswer:
        """§1.10: HTTP 200 with the documented reply once stored (again, for a duplicate).

        A push innsync stored but cannot read gets ``unreadable_webhook_answer``: by default a
        400 with ``success: false`` and the reason, never a 5xx (Aiosell would retry it).
        """
        del outcome  # stored now or before: Aiosell may stop either way
        try:
            self._read(body)
        except ChannelRejectedError as exc:
            if self.config.unreadable_webhook_answer == "refuse":
                return WebhookAnswer(
                    UNREADABLE_STATUS,
                    {"success": False, "message": f"Reservation not understood: {exc}"},
                )
        return WebhookAnswer(200, WEBHOOK_REPLY)

    def _read(self, body: bytes) -> BookingRevision | BookingCancellation:
        return revision_from_body(
            body,
            received_at=self._now(),
            currency=self.config.currency,
            zone=ZoneInfo(self.config.timezone),
        )

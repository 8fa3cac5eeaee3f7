"""The Beds24 adapter: calendar out, bookings in (pull and webhooks), direct bookings out.

Speaks Beds24 API V2 (https://api.beds24.com/v2), documented by Beds24's OpenAPI file
(https://beds24.com/api/v2/apiV2.yaml, Swagger UI at https://api.beds24.com/v2/) and the wiki
(https://wiki.beds24.com/index.php/Category:API_V2), summarised with sources in innsync's
``shared/channels/beds24.md`` (section numbers below point there). Where the integration design
and those documents disagree (token lifetime, rate limits, endpoints, webhook signing), the
vendor's documents win. ``CHECKLIST.yaml`` tracks what is done.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import httpx

from innsync.channels.beds24.client import Beds24Client
from innsync.channels.beds24.config import Beds24Config
from innsync.channels.beds24.credits import PROCESS_METERS, CreditMeters
from innsync.channels.beds24.mapping import (
    ALL_STATUSES,
    MAX_MAX_STAY,
    MAX_MIN_STAY,
    BookingShapeError,
    CalendarBatch,
    availability_batch,
    availability_from_calendar,
    booking_body,
    entry_results,
    is_own_booking,
    own_reference,
    parse_time,
    rates_batch,
    rates_from_calendar,
    revision_from_booking,
)
from innsync.channels.beds24.webhooks import (
    booking_of,
    custom_header_line,
    verify_secret_header,
)
from innsync.channels.credentials import CredentialStore, InMemoryCredentialStore
from innsync.channels.errors import ChannelRejectedError
from innsync.channels.http import WallClock, utc_now
from innsync.channels.registry import secret_digest
from innsync.channels.types import (
    AvailabilityUpdate,
    BookingRevision,
    ChannelLimits,
    ChannelNotice,
    PushRequest,
    PushResult,
    RatePlanKey,
    RateUpdate,
    RateValues,
    RevisionPage,
    ValueConstraints,
)
from innsync.stay_dates import DateRange

logger = logging.getLogger(__name__)

BEDS24_LIMITS = ChannelLimits(
    # §2.3: 100 credits per 5 minutes per account; a call costs about one credit (more for
    # large pages), so the planner counts calls against the credits and the credit meter
    # (credits.py) stops calls the headers say the account cannot afford.
    requests_per_window=100,
    window_seconds=300.0,
    window_scope="account",
    # §2.6: availability, prices and restrictions are one calendar endpoint, one budget.
    separate_budgets=False,
    # §2.3: about 1 MB per POST. The planner sizes requests in innsync's neutral JSON; a
    # Beds24 range entry is shorter than the neutral one, so half of it leaves a wide margin,
    # and the client still measures the real body.
    max_request_bytes=500_000,
    # §2.3: at most 10,000 top-level items per POST; items are rooms, fewer than entries.
    max_entries_per_request=10_000,
    # §2.6: from/to ranges; no weekday filter exists, so the planner expands weekdays.
    understands_ranges=True,
    understands_weekdays=False,
    # §2.6: a calendar field left out keeps its value, but closed to arrival, closed to
    # departure and stop sell are one `override` value: a partial update of one flag would
    # clear the others, so every rate entry carries all of the plan's fields.
    accepts_partial_rates=False,
    # §2.6: override blackout to none without numAvail in the same entry sets numAvail to the
    # room's maximum; the engine gives rates requests the units to send with such a lift.
    lifting_stop_sell_sets_availability=True,
    # §2.6: minStay 1-365, maxStay 1-364; §2.5 money is major units with cents.
    values=ValueConstraints(
        max_price=Decimal("99999999.99"),
        price_decimal_places=2,
        max_min_stay=MAX_MIN_STAY,
        max_max_stay=MAX_MAX_STAY,
    ),
)
CALENDAR = "/inventory/rooms/calendar"
BOOKINGS = "/bookings"
_CURSOR_SEPARATOR = "|"


def account_identity(config: Beds24Config) -> str:
    """§2.3: the credit budget is the account's, whichever property or token spends it."""
    if config.account_id is not None:
        return f"{config.base_url} account {config.account_id}"
    secret = config.refresh_token or config.invite_code
    assert secret is not None  # the config validator requires one of them
    return f"{config.base_url} token {secret_digest(secret)}"


class Beds24Adapter:
    """One Beds24 property of one account."""

    name = "beds24"

    def __init__(
        self,
        config: Beds24Config,
        http: httpx.AsyncClient,
        *,
        credentials: CredentialStore | None = None,
        now: WallClock = utc_now,
        meters: CreditMeters = PROCESS_METERS,
    ) -> None:
        self.config = config
        self._now = now
        self.client = Beds24Client(
            config,
            http,
            credentials=credentials or InMemoryCredentialStore(),
            meter=meters.of(account_identity(config)),
            now=now,
        )

    @property
    def limits(self) -> ChannelLimits:
        return dataclasses.replace(
            BEDS24_LIMITS, requests_per_window=self.config.credits_per_window
        )

    @property
    def pull_interval_seconds(self) -> float:
        return self.config.pull_poll_seconds

    async def test_connection(self) -> None:
        """§2.7: read the property; proves the token, its scopes and the property id."""
        answer = await self.client.get_page(
            "/properties", [("id", str(self.config.property_id))], 1
        )
        if not any(item.get("id") == self.config.property_id for item in answer.data):
            raise ChannelRejectedError(
                f"Beds24 property {self.config.property_id} is not visible to this token "
                f"(check the property id, the scopes and 'Allow linked properties')"
            )

    # ARI out (§2.6).

    async def push_availability(self, request: PushRequest[AvailabilityUpdate]) -> PushResult:
        """One calendar call for the whole request: one item per room, one range per entry."""
        return await self._push(len(request.updates), availability_batch(request.updates))

    async def push_rates(self, request: PushRequest[RateUpdate]) -> PushResult:
        """One calendar call: price slots, minStay, maxStay and override per range, and the
        held numAvail with an override that lifts a blackout (§2.6)."""
        batch = rates_batch(request.updates, self.config, request.held_availability)
        return await self._push(len(request.updates), batch)

    async def _push(self, count: int, batch: CalendarBatch) -> PushResult:
        answers: list[tuple[bool, str]] = []
        if batch.items:
            replies = await self.client.post_items(CALENDAR, batch.items)
            answers = [(reply.success, reply.reason()) for reply in replies]
        return PushResult(entry_results(count, batch, answers))

    async def read_availability(
        self, room_type_codes: Sequence[str], dates: DateRange
    ) -> dict[str, dict[date, int]]:
        rooms = await self._calendar(room_type_codes, dates, ("includeNumAvail",))
        held = availability_from_calendar(rooms, dates)
        return {code: held.get(code, {}) for code in room_type_codes}

    async def read_rates(
        self, rate_plans: Sequence[RatePlanKey], dates: DateRange
    ) -> dict[RatePlanKey, dict[date, RateValues]]:
        flags = ("includePrices", "includeMinStay", "includeMaxStay", "includeOverride")
        rooms = await self._calendar([room for room, _ in rate_plans], dates, flags)
        return rates_from_calendar(rooms, rate_plans, dates, self.config)

    async def _calendar(
        self, room_codes: Sequence[str], dates: DateRange, flags: Sequence[str]
    ) -> list[dict[str, object]]:
        # §2.6: startDate/endDate are inclusive; without an include flag the calendar is empty.
        params = [
            ("startDate", dates.start.isoformat()),
            ("endDate", (dates.end - timedelta(days=1)).isoformat()),
            *(("roomId", code) for code in dict.fromkeys(room_codes) if code.isdigit()),
            *((flag, "true") for flag in flags),
        ]
        return await self.client.get_all(CALENDAR, params)

    # Bookings in (§2.5 GET /bookings with modifiedFrom; §2.8 webhooks).

    async def pull_revisions(self, cursor: str | None) -> RevisionPage:
        """A page of bookings modified since the cursor, cancelled ones included (§2.5).

        Beds24 keeps no history and no feed to acknowledge: a booking is pulled as it is now,
        its revision id made of its id, modified time and status, so a pull and a webhook of
        the same state give the same revision and the inbox keeps it once.
        """
        modified_from, page, seen = self._position(cursor)
        params = [
            ("propertyId", str(self.config.property_id)),
            ("modifiedFrom", _utc_wire(modified_from)),
            *(("status", status) for status in ALL_STATUSES),
        ]
        listed = await self.client.get_page(BOOKINGS, params, page)
        revisions = []
        for booking in listed.data:
            modified = parse_time(booking.get("modifiedTime"))
            if modified is not None and (seen is None or modified > seen):
                seen = modified
            revision = self._revision(booking)
            if revision is not None:
                revisions.append(revision)
        revisions.sort(key=lambda r: (r.received_at, r.channel_booking_id))
        if listed.pages is not None and listed.pages.next_page_exists:
            return RevisionPage(
                tuple(revisions), _cursor(modified_from, page + 1, seen), has_more=True
            )
        # The next pull starts a little before the newest change seen (or now, when none was):
        # the overlap covers clock skew and the undocumented zone of modifiedFrom (§2.5).
        overlap = timedelta(seconds=self.config.pull_overlap_seconds)
        anchor = self._now() if seen is None else seen
        next_from = max(modified_from, anchor - overlap)
        return RevisionPage(tuple(revisions), _cursor(next_from, 1, None))

    def _position(self, cursor: str | None) -> tuple[datetime, int, datetime | None]:
        parts = (cursor or "").split(_CURSOR_SEPARATOR)
        start = parse_time(parts[0]) if parts else None
        if start is None:
            return self._now() - timedelta(days=self.config.first_pull_days), 1, None
        page = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 1
        seen = parse_time(parts[2]) if len(parts) > 2 else None
        return start, max(page, 1), seen

    def _revision(self, booking: Mapping[str, object]) -> BookingRevision | None:
        if is_own_booking(booking):
            return None  # innsync's own direct booking coming back: never taken in again
        if booking.get("status") in self.config.ignored_statuses:
            return None
        property_id = booking.get("propertyId")
        if property_id is not None and property_id != self.config.property_id:
            return None
        try:
            return revision_from_booking(
                booking, currency=self.config.currency, fallback_time=self._now()
            )
        except (BookingShapeError, ValueError) as exc:
            logger.warning(
                "beds24 booking skipped",
                extra={"booking_id": booking.get("id"), "reason": str(exc)},
            )
            return None

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> None:
        """§2.8: the custom header and secret the operator set on the property's webhook."""
        del body  # nothing in the body can prove where it came from
        secret = self.config.webhook_secret
        verify_secret_header(
            headers,
            self.config.webhook_header,
            None if secret is None else secret.get_secret_value(),
        )

    async def parse_webhook(
        self, headers: Mapping[str, str], body: bytes
    ) -> Sequence[BookingRevision | ChannelNotice]:
        """§2.8 version 2: one booking as it is now; its status says new, modified or cancelled."""
        del headers
        booking = booking_of(body)
        if is_own_booking(booking) or booking.get("status") in self.config.ignored_statuses:
            return ()
        try:
            revision = revision_from_booking(
                booking, currency=self.config.currency, fallback_time=self._now()
            )
        except (BookingShapeError, ValueError) as exc:
            raise ChannelRejectedError(f"the Beds24 webhook booking is invalid: {exc}") from exc
        property_id = booking.get("propertyId")
        if property_id is not None and property_id != self.config.property_id:
            return ()
        return (revision,)

    async def register_webhooks(self, callback_url: str) -> int:
        """§2.7/§2.8: set the property's booking webhook (version 2 with personal data) to
        ``callback_url`` with the secret custom header; 0 when it is already so.

        POST /properties is Beta and may answer success without applying (§2.7), so the
        property is read again after the change.
        """
        secret = self.config.webhook_secret
        if secret is None:
            raise ChannelRejectedError("set webhook_secret before registering Beds24 webhooks")
        wanted = {
            "version": "twoWithPersonalData",
            "url": callback_url,
            "customHeader": custom_header_line(
                self.config.webhook_header, secret.get_secret_value()
            ),
        }
        if self._has_webhook(await self._property(), wanted):
            return 0
        (reply,) = await self.client.post_items(
            "/properties", [{"id": self.config.property_id, "webhooks": wanted}]
        )
        if not reply.success:
            raise ChannelRejectedError(f"Beds24 refused the webhook settings: {reply.reason()}")
        if not self._has_webhook(await self._property(), wanted):
            raise ChannelRejectedError(
                "Beds24 answered success but the property's webhook did not change; set it in "
                "Settings > Properties > Access > Booking Webhook"
            )
        return 1

    async def _property(self) -> Mapping[str, object]:
        answer = await self.client.get_page(
            "/properties", [("id", str(self.config.property_id))], 1
        )
        return next((item for item in answer.data if item.get("id") == self.config.property_id), {})

    @staticmethod
    def _has_webhook(prop: Mapping[str, object], wanted: Mapping[str, str]) -> bool:
        held = prop.get("webhooks")
        return isinstance(held, Mapping) and all(held.get(k) == v for k, v in wanted.items())

    # Bookings out (§2.5 POST /bookings).

    async def push_reservation(self, revision: BookingRevision) -> str:
        """Create, change or cancel innsync's direct booking on Beds24; its Beds24 id.

        The booking carries ``innsync-<id>`` as its apiReference and is looked up by it first,
        so a retry after a call that timed out once Beds24 had stored it changes that booking
        instead of making a second one.
        """
        reference = own_reference(revision)
        params = [
            ("propertyId", str(self.config.property_id)),
            ("apiReference", reference),
            *(("status", status) for status in ALL_STATUSES),
        ]
        found = (await self.client.get_page(BOOKINGS, params, 1)).data
        existing = next((item for item in found if item.get("apiReference") == reference), None)
        existing_id = None if existing is None else int(str(existing.get("id")))
        if revision.status == "cancelled":
            if existing_id is None:
                raise ChannelRejectedError(f"no Beds24 booking carries {reference} to cancel")
            if existing is not None and existing.get("status") == "cancelled":
                return str(existing_id)
        try:
            body = booking_body(revision, existing)
        except ValueError as exc:
            raise ChannelRejectedError(f"Beds24 cannot take booking {reference}: {exc}") from exc
        (reply,) = await self.client.post_items(BOOKINGS, [body])
        new_id = (reply.new or {}).get("id")
        booking_id = existing_id if new_id is None else new_id
        if not reply.success or booking_id is None:
            raise ChannelRejectedError(f"Beds24 refused booking {reference}: {reply.reason()}")
        return str(booking_id)


def _utc_wire(moment: datetime) -> str:
    """§2.5: ``YYYY-MM-DDTHH:MM:SS``, sent in UTC (the zone is not documented)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _cursor(start: datetime, page: int, seen: datetime | None) -> str:
    return _CURSOR_SEPARATOR.join(
        (start.isoformat(), str(page), "" if seen is None else seen.isoformat())
    )

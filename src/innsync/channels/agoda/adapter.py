"""The Agoda adapter: ARI with SetARI out, bookings pulled with GetBookingList/GetBookingDetail.

Speaks Agoda's YCS5 supply API (XML; one endpoint, the operation in ``<request type>``),
documented at https://developer.agoda.com/supply/ and https://www.agodaconnectivity.com/ and
summarised with sources in ``shared/channels/ota-direct-and-standards.md`` §3.3 (section numbers
below point there). The BookingHint push is a trigger: the adapter fetches the hinted bookings'
details at once and trusts only those. ``CHECKLIST.yaml`` tracks what is done and what is
inferred.

Agoda has no acknowledgement call: retrieving a booking's detail is what tells Agoda the
channel manager has it (the list's ``acknowledge`` flag) [INFERRED]. The detail is fetched
before innsync stores it, and the pull's cursor moves only with the stored revisions, so a
crash in between re-reads the same window: nothing lost, and the inbox keeps each revision once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import httpx

from innsync.channels.agoda.client import AgodaClient
from innsync.channels.agoda.config import AgodaConfig
from innsync.channels.agoda.mapping import (
    CANNOT_CARRY,
    SendWindow,
    agoda_today,
    entry_results,
    plan_set_ari,
    read_answer,
    set_ari_documents,
)
from innsync.channels.agoda.readback import (
    ari_request,
    pieces,
    read_allotments,
    read_rate_values,
)
from innsync.channels.agoda.reservations import (
    LIST_STATUSES,
    chunks,
    detail_bookings,
    detail_request,
    list_request,
    listed_bookings,
    revision_from_detail,
    window,
)
from innsync.channels.agoda.webhooks import check_hint_secret, hinted_booking_ids
from innsync.channels.errors import ChannelRejectedError
from innsync.channels.http import WallClock, utc_now
from innsync.channels.types import (
    AvailabilityUpdate,
    BookingCancellation,
    BookingRevision,
    ChannelLimits,
    ChannelNotice,
    EntryResult,
    PushRequest,
    PushResult,
    RatePlanKey,
    RateUpdate,
    RateValues,
    RevisionPage,
    UnreadableMessage,
    ValueConstraints,
)
from innsync.stay_dates import DateRange
from innsync.xmlkit.parsing import Element, attribute, to_bytes

AGODA_LIMITS = ChannelLimits(
    # §3.3: "daily call limit: none stated" [INFERRED]: 60 calls a minute per property is a
    # conservative pace the simulator enforces too.
    requests_per_window=60,
    window_seconds=60.0,
    window_scope="property",
    # One SetARI carries allotment, restrictions and prices together.
    separate_budgets=False,
    # §3.3: at most 1 MB per request; the adapter cuts a push into as few requests as fit.
    max_request_bytes=1_000_000,
    max_entries_per_request=None,
    # §3.3: date_range from..to with mon..sun flags.
    understands_ranges=True,
    understands_weekdays=True,
    # A SetARI update sets only the elements it carries [INFERRED].
    accepts_partial_rates=True,
    # [INFERRED] whether a price list replaces the occupancies it leaves out: send it whole.
    accepts_partial_occupancy_prices=False,
    values=ValueConstraints(
        min_price=Decimal("0.01"), price_decimal_places=2, cannot_carry=CANNOT_CARRY
    ),
    today_margin_seconds=0.0,
)


def _result(entries: tuple[EntryResult, ...], warnings: tuple[str, ...]) -> PushResult:
    refused = tuple(f"entry {e.index}: {e.reason}" for e in entries if not e.accepted)
    return PushResult(entries, None, warnings + refused)


class AgodaAdapter:
    """One Agoda property (``property_id``) reached with the channel manager's API key."""

    name = "agoda"

    def __init__(
        self, config: AgodaConfig, http: httpx.AsyncClient, *, now: WallClock = utc_now
    ) -> None:
        self.config = config
        self._now = now
        self._zone = ZoneInfo(config.timezone)
        self._client = AgodaClient(config, http, now=now)

    @property
    def limits(self) -> ChannelLimits:
        return AGODA_LIMITS

    @property
    def pull_interval_seconds(self) -> float:
        return self.config.pull_interval_seconds

    @property
    def pull_retry_cap_seconds(self) -> float:
        """The longest wait between failed pulls (the reconciler's backoff stops here)."""
        return self.config.pull_retry_cap_seconds

    def _timestamp(self) -> int:
        return int(self._now().timestamp())

    async def test_connection(self) -> None:
        """List the property's bookings of the last hour: proves the key and the property."""
        now = self._now()
        await self._client.read(
            list_request(
                self.config.property_id,
                now - timedelta(hours=1),
                now,
                LIST_STATUSES[0],
                self._timestamp(),
            )
        )

    async def push_availability(self, request: PushRequest[AvailabilityUpdate]) -> PushResult:
        """§3.3: allotment in SetARI ``<inventory>`` updates."""
        return _result(*await self._push(request.updates))

    async def push_rates(self, request: PushRequest[RateUpdate]) -> PushResult:
        """§3.3: prices and restrictions in SetARI ``<rate>`` updates."""
        return _result(*await self._push(request.updates))

    async def push_ari(
        self,
        availability: PushRequest[AvailabilityUpdate],
        rates: PushRequest[RateUpdate],
    ) -> tuple[PushResult, PushResult]:
        """Both in the same SetARI documents: one request when they fit in 1 MB."""
        updates: list[AvailabilityUpdate | RateUpdate] = [*availability.updates, *rates.updates]
        entries, warnings = await self._push(updates)
        at = len(availability.updates)
        second = tuple(
            EntryResult(e.index - at, e.accepted, e.reason, e.sent) for e in entries[at:]
        )
        return _result(entries[:at], warnings), _result(second, ())

    async def _push(
        self, updates: Sequence[AvailabilityUpdate | RateUpdate]
    ) -> tuple[tuple[EntryResult, ...], tuple[str, ...]]:
        # Agoda's today (ICT) decides what it takes: ahead of most properties' today, so a
        # date the engine still plans may already be Agoda's past (kept back, not refused).
        first = agoda_today(self._now(), self._zone)
        planned = plan_set_ari(
            updates, SendWindow(first, self.config.horizon_days), self.config.currency
        )
        documents = set_ari_documents(
            planned,
            self.config.property_id,
            self.config.set_ari_type,
            self._timestamp(),
            self.config.max_request_bytes,
        )
        sent = []
        for document in documents:
            sent.append((document, read_answer(await self._client.call(document.body))))
        warnings = tuple(warning for _, answer in sent for warning in answer.warnings)
        return entry_results(len(updates), sent, planned), warnings

    async def _read_ari(self, rooms: Sequence[str], dates: DateRange) -> list[Element]:
        """GetAri over ``dates`` in calls of at most 31 days (§3.3)."""
        answers = []
        for first, last in pieces(dates):
            body = ari_request(self.config.property_id, rooms, first, last, self._timestamp())
            answers.append(await self._client.read(body))
        return answers

    async def read_availability(
        self, room_type_codes: Sequence[str], dates: DateRange
    ) -> dict[str, dict[date, int]]:
        """The allotment Agoda holds per room and date (dates it holds nothing for left out)."""
        held: dict[str, dict[date, int]] = {code: {} for code in room_type_codes}
        for root in await self._read_ari(room_type_codes, dates):
            for code, days in read_allotments(root).items():
                if code in held:
                    held[code].update(days)
        return held

    async def read_rates(
        self, rate_plans: Sequence[RatePlanKey], dates: DateRange
    ) -> dict[RatePlanKey, dict[date, RateValues]]:
        """The prices and restrictions Agoda holds per rate plan and date."""
        held: dict[RatePlanKey, dict[date, RateValues]] = {plan: {} for plan in rate_plans}
        rooms = [room for room, _ in rate_plans]
        for root in await self._read_ari(rooms, dates):
            for plan, days in read_rate_values(root).items():
                if plan in held:
                    held[plan].update(days)
        return held

    async def _details(
        self, booking_ids: Sequence[str]
    ) -> tuple[list[BookingRevision], list[UnreadableMessage]]:
        """GetBookingDetail in calls of at most 50 ids (§3.3); each booking read on its own."""
        revisions: list[BookingRevision] = []
        unreadable: list[UnreadableMessage] = []
        for ids in chunks(booking_ids):
            root = await self._client.read(
                detail_request(self.config.property_id, ids, self._timestamp())
            )
            for booking in detail_bookings(root):
                if attribute(booking, "property_id") not in (None, self.config.property_id):
                    continue  # never another property's booking, whatever the answer holds
                try:
                    revisions.append(revision_from_detail(booking, self.config.currency))
                except ValueError as exc:
                    key = f"{attribute(booking, 'booking_id')}@{attribute(booking, 'last_action')}"
                    unreadable.append(UnreadableMessage(key, to_bytes(booking), str(exc)))
        return revisions, unreadable

    async def pull_revisions(self, cursor: str | None) -> RevisionPage:
        """§3.3: the bookings whose last action falls in the window, then their details.

        The cursor is the end of the last window read; the next pull starts a little before it
        (``pull_overlap_seconds``) and reads at most 90 days, asking again at once while it is
        behind.
        """
        now = self._now()
        start, end = window(
            cursor,
            now,
            timedelta(hours=self.config.first_pull_lookback_hours),
            timedelta(seconds=self.config.pull_overlap_seconds),
            self.config.list_window_days,
        )
        statuses: Sequence[str | None] = LIST_STATUSES if self.config.list_by_status else (None,)
        ids: list[str] = []
        for status in statuses:
            root = await self._client.read(
                list_request(self.config.property_id, start, end, status, self._timestamp())
            )
            ids += [
                listed.booking_id
                for listed in listed_bookings(root)
                if listed.property_id == self.config.property_id
            ]
        revisions, unreadable = await self._details(ids) if ids else ([], [])
        return RevisionPage(
            tuple(revisions),
            end.isoformat(),
            has_more=end < now,
            unreadable=tuple(unreadable),
        )

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> None:
        """A BookingHint for this property, with the hint secret when one is set (§3.3)."""
        check_hint_secret(headers, self.config.hint_secret, self.config.hint_secret_header)
        hinted_booking_ids(body, self.config.property_id)

    async def parse_webhook(
        self, headers: Mapping[str, str], body: bytes
    ) -> Sequence[BookingRevision | BookingCancellation | ChannelNotice]:
        """The hinted bookings as Agoda's GetBookingDetail shows them now (§3.3).

        A hint naming no booking Agoda knows for the property is refused: it was not Agoda's.
        """
        del headers  # checked on receipt; stored with the secret redacted
        ids = hinted_booking_ids(body, self.config.property_id)
        revisions, unreadable = await self._details(ids)
        if unreadable:
            reasons = "; ".join(f"{item.key}: {item.reason}" for item in unreadable)
            raise ChannelRejectedError(
                f"Agoda's detail of a hinted booking is unreadable: {reasons}"
            )
        if not revisions:
            raise ChannelRejectedError(
                "Agoda's GetBookingDetail knows none of the hinted bookings: "
                "the hint is not trusted"
            )
        return revisions

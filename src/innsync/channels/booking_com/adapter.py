"""The Booking.com adapter: ARI over OpenTravel XML out, reservations pulled and acknowledged.

Speaks Booking.com's Connectivity APIs, OTA flavour (``OTA_HotelAvailNotif``,
``OTA_HotelRateAmountNotif``, ``OTA_HotelResNotif``, ``OTA_HotelResModifyNotif``; OpenTravel
2015A schemas, payload namespace ``http://www.opentravel.org/OTA/2003/05``) with token-based
authentication, documented at https://developers.booking.com/connectivity/docs/ and summarised
with sources in ``shared/channels/ota-direct-and-standards.md`` §3.1 and §4 (section numbers
below point there). ``CHECKLIST.yaml`` tracks what is done.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

import httpx

from innsync.channels.booking_com.client import (
    MODIFIED_RESERVATIONS_PATH,
    NEW_RESERVATIONS_PATH,
    BookingComClient,
    ResponseTokenMismatchError,
)
from innsync.channels.booking_com.config import BookingComConfig
from innsync.channels.booking_com.mapping import (
    CANNOT_CARRY,
    MessageStamp,
    Planned,
    avail_notif,
    entry_results,
    first_open_date,
    plan_availability,
    plan_rate_amounts,
    rate_amount_notif,
    read_acknowledgement,
)
from innsync.channels.booking_com.reservations import (
    RESPONSE_TOKENS,
    PulledQueue,
    Queue,
    ResponseTokens,
    RevisionKey,
    acknowledgement,
    pulled_reservations,
)
from innsync.channels.credentials import LOCAL_ACCOUNT_CREDENTIALS, AccountCredentials
from innsync.channels.errors import ChannelRejectedError
from innsync.channels.http import WallClock, utc_now
from innsync.channels.types import (
    AvailabilityUpdate,
    ChannelLimits,
    EntryResult,
    PushRequest,
    PushResult,
    RateUpdate,
    RevisionPage,
    ValueConstraints,
)

BOOKING_COM_LIMITS = ChannelLimits(
    # §3.1 Rate limits: "no published numbers" for the ARI endpoints [UNCONFIRMED]. 60 calls a
    # minute per property and endpoint is a conservative pace the simulator enforces too.
    requests_per_window=60,
    window_seconds=60.0,
    window_scope="property",
    # Rooms to sell and restrictions share OTA_HotelAvailNotif, so availability and rate pushes
    # spend one budget (a rate push may also post one RateAmountNotif).
    separate_budgets=False,
    # §3.1: no documented payload cap; innsync's parser refuses answers past 8 MB.
    max_request_bytes=None,
    max_entries_per_request=None,
    # §3.1: StatusApplicationControl Start..End ranges; weekday patterns are not in the notes.
    understands_ranges=True,
    understands_weekdays=False,
    # §3.1: restrictions (AvailNotif) and prices (RateAmountNotif) travel apart, and a
    # LengthOfStay or RestrictionStatus left out keeps its value.
    accepts_partial_rates=True,
    # [UNCONFIRMED] whether a BaseByGuestAmts list replaces the occupancies it leaves out:
    # innsync sends the whole list.
    accepts_partial_occupancy_prices=False,
    # §3.1: amounts go as minor units with DecimalPlaces (2 for EUR, the default currency);
    # min_stay_through and the advance-booking windows have no element in the notes.
    values=ValueConstraints(
        min_price=Decimal("0.01"), price_decimal_places=2, cannot_carry=CANNOT_CARRY
    ),
    # §3.1 Rules: a day back (CET) is still accepted, so no margin before midnight is needed.
    today_margin_seconds=0.0,
)


def _result(entries: tuple[EntryResult, ...], warnings: tuple[str, ...]) -> PushResult:
    refused = tuple(f"entry {e.index}: {e.reason}" for e in entries if not e.accepted)
    return PushResult(entries, None, warnings + refused)


_QUEUE_PATHS: dict[Queue, str] = {
    "new": NEW_RESERVATIONS_PATH,
    "modify": MODIFIED_RESERVATIONS_PATH,
}


class BookingComAdapter:
    """One Booking.com property (``hotel_id``) of one machine account."""

    name = "booking_com"

    def __init__(
        self,
        config: BookingComConfig,
        http: httpx.AsyncClient,
        *,
        accounts: AccountCredentials = LOCAL_ACCOUNT_CREDENTIALS,
        now: WallClock = utc_now,
        response_tokens: ResponseTokens = RESPONSE_TOKENS,
    ) -> None:
        self.config = config
        self._now = now
        self._zone = ZoneInfo(config.timezone)
        self._client = BookingComClient(config, http, accounts=accounts, now=now)
        # Response tokens of the last pull, by revision id (§3.1 409), shared in the process:
        # an acknowledgement without the current one pulls again when Booking.com asks for it.
        self._tokens = response_tokens

    @property
    def limits(self) -> ChannelLimits:
        return BOOKING_COM_LIMITS

    @property
    def pull_interval_seconds(self) -> float:
        return self.config.pull_interval_seconds

    @property
    def pull_attention_after(self) -> int:
        """Failed pulls in a row before the PMS is told, well before the e-mail fallback."""
        return self.config.attention_after_failed_pulls

    @property
    def pull_retry_cap_seconds(self) -> float:
        """The longest wait between failed pulls (the reconciler's backoff stops here)."""
        return self.config.pull_retry_cap_seconds

    async def test_connection(self) -> None:
        """Exchange a token and read the new-reservation queue of the hotel (§3.1).

        The read changes nothing: unacknowledged reservations stay in the queue.
        """
        await self._client.pull(NEW_RESERVATIONS_PATH)

    def _stamp(self) -> MessageStamp:
        return MessageStamp(uuid.uuid4().hex, self._now(), self.config.target)

    async def push_availability(self, request: PushRequest[AvailabilityUpdate]) -> PushResult:
        """§3.1: one OTA_HotelAvailNotifRQ with a BookingLimit message per range."""
        first_open = request.today or first_open_date(self._now(), self._zone)
        planned = plan_availability(request.updates, first_open, self.config.month_batches)
        return _result(*await self._push(len(request.updates), [(planned, "avail")]))

    async def push_rates(self, request: PushRequest[RateUpdate]) -> PushResult:
        """§3.1: restrictions in one OTA_HotelAvailNotifRQ, prices in one
        OTA_HotelRateAmountNotifRQ, each only when the request has some."""
        return _result(*await self._push_updates(request.updates, request.today))

    async def push_ari(
        self,
        availability: PushRequest[AvailabilityUpdate],
        rates: PushRequest[RateUpdate],
    ) -> tuple[PushResult, PushResult]:
        """§3.1: rooms to sell and restrictions share one OTA_HotelAvailNotifRQ, prices go in
        one OTA_HotelRateAmountNotifRQ: two requests (a month each with month batches)."""
        updates: list[AvailabilityUpdate | RateUpdate] = [*availability.updates, *rates.updates]
        entries, warnings = await self._push_updates(updates, rates.today)
        at = len(availability.updates)
        # Each side indexed like its own request; the message-level warnings told once.
        first = entries[:at]
        second = tuple(dataclasses.replace(entry, index=entry.index - at) for entry in entries[at:])
        return _result(first, warnings), _result(second, ())

    async def _push_updates(
        self,
        updates: Sequence[AvailabilityUpdate | RateUpdate],
        today: date | None,
    ) -> tuple[tuple[EntryResult, ...], tuple[str, ...]]:
        """Rooms to sell and restrictions as AvailStatusMessages, prices as RateAmountMessages."""
        first_open = today or first_open_date(self._now(), self._zone)
        batches = self.config.month_batches
        statuses = plan_availability(updates, first_open, batches)
        prices = plan_rate_amounts(
            updates, first_open, self.config.currency, self.config.decimal_places, batches
        )
        return await self._push(len(updates), [(statuses, "avail"), (prices, "rate")])

    async def _push(
        self, count: int, parts: list[tuple[Planned, str]]
    ) -> tuple[tuple[EntryResult, ...], tuple[str, ...]]:
        """Send the planned messages; one result per update and the channel's other remarks."""
        sent = []
        for planned, endpoint in parts:
            # One request per calendar month with month batches (§3.1), else one in all.
            for batch in planned.by_month() if self.config.month_batches else [planned]:
                if endpoint == "avail":
                    outgoing = avail_notif(self.config.hotel_id, batch, self._stamp())
                    if outgoing is not None:
                        root = await self._client.avail_notif(outgoing.body)
                        sent.append((outgoing, read_acknowledgement(root)))
                else:
                    outgoing = rate_amount_notif(self.config.hotel_id, batch, self._stamp())
                    if outgoing is not None:
                        root = await self._client.rate_amount_notif(outgoing.body)
                        sent.append((outgoing, read_acknowledgement(root)))
        entries = entry_results(count, sent, [planned for planned, _ in parts])
        return entries, tuple(warning for _, answer in sent for warning in answer.warnings)

    async def _pull_queue(self, queue: Queue) -> PulledQueue:
        pulled = pulled_reservations(
            await self._client.pull(_QUEUE_PATHS[queue]), queue, self._now()
        )
        return PulledQueue(
            [found for found in pulled.reservations if self._is_ours(found.hotel_code)],
            [found for found in pulled.unreadable if self._is_ours(found[1])],
        )

    def _is_ours(self, hotel_code: str | None) -> bool:
        # The queue is the provider's, not the hotel's (§3.1): another hotel's reservation is
        # left unacknowledged for its own connection to take.
        return hotel_code in (None, self.config.hotel_id)

    async def pull_revisions(self, cursor: str | None) -> RevisionPage:
        """§3.1: the new queue, then the modify queue; everything unacknowledged, every time.

        Acknowledged reservations leave the queues, so there is no cursor: each pass reads the
        queues whole and the inbox keeps each revision once.
        """
        del cursor
        queues = [await self._pull_queue("new"), await self._pull_queue("modify")]
        found = [pulled for queue in queues for pulled in queue.reservations]
        for pulled in found:
            if pulled.response_token is not None:
                self._tokens.remember(
                    self.config.hotel_id, pulled.revision.revision_id, pulled.response_token
                )
        return RevisionPage(
            tuple(pulled.revision for pulled in found),
            None,
            unreadable=tuple(message for queue in queues for message, _ in queue.unreadable),
        )

    async def acknowledge_revision(self, revision_id: str) -> None:
        """§3.1: POST the queue's RS naming the reservation; on 409 pull again and resend.

        A second acknowledgement of the same message is answered with success; a stale one
        (§3.1 400, "transaction message of the wrong type") is a refusal innsync stops on.
        """
        key = RevisionKey.parse(revision_id)
        token = self._tokens.get(self.config.hotel_id, revision_id)
        try:
            await self._acknowledge(key, token)
        except ResponseTokenMismatchError:
            token = await self._current_token(key, revision_id)
            await self._acknowledge(key, token)
        self._tokens.forget(self.config.hotel_id, revision_id)

    async def _current_token(self, key: RevisionKey, revision_id: str) -> str | None:
        for pulled in (await self._pull_queue(key.queue)).reservations:
            if pulled.revision.revision_id == revision_id:
                return pulled.response_token
        raise ChannelRejectedError(
            f"Booking.com no longer offers revision {revision_id} to acknowledge"
        )

    async def _acknowledge(self, key: RevisionKey, token: str | None) -> None:
        body = acknowledgement(
            key.queue,
            self.config.hotel_id,
            [(key.reservation_id, token)],
            self._now(),
            self.config.target,
        )
        root = await self._client.acknowledge(_QUEUE_PATHS[key.queue], body)
        answer = read_acknowledgement(root)
        if not answer.is_success:
            raise ChannelRejectedError(
                "Booking.com refused the acknowledgement: " + "; ".join(answer.errors)
            )

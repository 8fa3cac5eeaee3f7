"""The Expedia QuickConnect adapter: ARI out with AR (read back with PARR), bookings in with BR,
confirmed with BC.

Speaks EQC's XML APIs over HTTPS POST: ``AvailRateUpdateRQ`` (namespace
``http://www.expediaconnect.com/EQC/AR/2011/06``), ``BookingRetrievalRQ`` (``…/BR/2014/01``),
``BookingConfirmRQ`` (``…/BC/2007/09``) and ``ProductAvailRateRetrievalRQ`` (``…/PAR/2013/07``),
documented in Expedia's EQC specifications (expediaquickconnect.com; public copies listed in
``shared/channels/ota-direct-and-standards.md`` §3.2, whose section numbers the comments cite).
``CHECKLIST.yaml`` tracks what is done.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import date
from decimal import Decimal

import httpx

from innsync.channels.errors import ChannelRejectedError
from innsync.channels.expedia.client import ExpediaClient
from innsync.channels.expedia.config import ExpediaConfig
from innsync.channels.expedia.mapping import (
    CANNOT_CARRY,
    MAX_LOS,
    MAX_UPDATES_PER_MESSAGE,
    ar_request,
    plan_ar,
)
from innsync.channels.expedia.readback import (
    DAYS_PER_CALL,
    parr_request,
    read_inventory,
    read_rate_values,
)
from innsync.channels.expedia.reservations import (
    TransactionKey,
    bc_request,
    br_request,
    retrieved,
)
from innsync.channels.http import WallClock, utc_now
from innsync.channels.types import (
    AvailabilityUpdate,
    ChannelLimits,
    EntryResult,
    PushRequest,
    PushResult,
    RatePlanKey,
    RateUpdate,
    RateValues,
    RevisionPage,
    ValueConstraints,
)
from innsync.stay_dates import DateRange

EXPEDIA_LIMITS = ChannelLimits(
    # §3.2: no rate limit is published [UNCONFIRMED]; EQC takes one connection at a time per
    # hotel and API, and an AR can take up to 5 s (FAQ), so a minute holds a few dozen calls.
    requests_per_window=30,
    window_seconds=60.0,
    window_scope="property",
    # Availability, rates and restrictions share AR messages: one budget.
    separate_budgets=False,
    # FAQ: the cap is 3000 updates per message, not bytes nor entries: the adapter packs its
    # messages to it (mapping.plan_ar), so the engine need not cut requests.
    max_request_bytes=None,
    max_entries_per_request=None,
    # AR RQ definition: DateRange from..to with mon..sun flags.
    understands_ranges=True,
    understands_weekdays=True,
    # AR RQ definition: an attribute left out keeps its value.
    accepts_partial_rates=True,
    # [UNCONFIRMED] whether PerOccupancy rates left out keep theirs: innsync sends them all.
    accepts_partial_occupancy_prices=False,
    values=ValueConstraints(
        min_price=Decimal("0"),
        # AR RQ definition: ">= 0.000", so three decimals at most.
        price_decimal_places=3,
        max_min_stay=MAX_LOS,
        max_max_stay=MAX_LOS,
        cannot_carry=CANNOT_CARRY,
    ),
    # AR RQ definition: "From date >= today - 1": yesterday is still taken.
    today_margin_seconds=0.0,
)
# BR definition: Status may list up to 3 values. "retrieved" finds again what a pull handed
# out but innsync did not store (a crash in between), so nothing is left to fall back to fax.
FIRST_PAGE_STATUSES = ("pending", "retrieved")
NEXT_PAGE = "pending"
RATE_PLAN_MARK = "Rate Plan ID"


class ExpediaAdapter:
    """One EQC property (``hotel_id``) reached with one EQC login."""

    name = "expedia"

    def __init__(
        self, config: ExpediaConfig, http: httpx.AsyncClient, *, now: WallClock = utc_now
    ) -> None:
        self.config = config
        self._now = now
        self._client = ExpediaClient(config, http, now=now)

    @property
    def limits(self) -> ChannelLimits:
        return EXPEDIA_LIMITS

    @property
    def pull_interval_seconds(self) -> float:
        return self.config.pull_interval_seconds

    def _credentials(self) -> tuple[str, str]:
        return self.config.username, self.config.password.get_secret_value()

    async def test_connection(self) -> None:
        """One BR for confirmed bookings: proves login and hotel and changes nothing (a
        pending booking read would become retrieved)."""
        await self._client.br(br_request(*self._credentials(), self.config.hotel_id, ["confirmed"]))

    async def push_availability(self, request: PushRequest[AvailabilityUpdate]) -> PushResult:
        """AR: rooms to sell as ``Inventory@totalInventoryAvailable``."""
        entries, warnings = await self._push(request.updates, request.today)
        return _result(entries, warnings)

    async def push_rates(self, request: PushRequest[RateUpdate]) -> PushResult:
        """AR: prices, restrictions and closed flags of the rate plans."""
        entries, warnings = await self._push(request.updates, request.today)
        return _result(entries, warnings)

    async def push_ari(
        self,
        availability: PushRequest[AvailabilityUpdate],
        rates: PushRequest[RateUpdate],
    ) -> tuple[PushResult, PushResult]:
        """Both in the same AR messages: the fewest the 3000-update cap allows."""
        updates: list[AvailabilityUpdate | RateUpdate] = [*availability.updates, *rates.updates]
        entries, warnings = await self._push(updates, rates.today or availability.today)
        at = len(availability.updates)
        first = entries[:at]
        second = tuple(dataclasses.replace(e, index=e.index - at) for e in entries[at:])
        # AR examples: a Rate Verification warning names its "Rate Plan ID"; a base allocation
        # one names only the room type: each goes with the push it is about.
        about_rates = tuple(w for w in warnings if RATE_PLAN_MARK in w)
        about_rooms = tuple(w for w in warnings if RATE_PLAN_MARK not in w)
        return _result(first, about_rooms), _result(second, about_rates)

    async def _push(
        self, updates: Sequence[AvailabilityUpdate | RateUpdate], today: date | None
    ) -> tuple[tuple[EntryResult, ...], tuple[str, ...]]:
        # AR RQ definition: "From date >= today - 1"; today in UTC is never before that.
        first_open = today or self._now().date()
        plan = plan_ar(updates, first_open, self.config.pricing, MAX_UPDATES_PER_MESSAGE)
        reasons = dict(plan.refused)
        sent: set[int] = set()
        warnings: list[str] = []
        for message in plan.messages:
            body = ar_request(
                self.config.hotel_id, *self._credentials(), message, self.config.currency
            )
            answer = await self._client.ar(body)
            origins = {piece.origin for piece in message}
            sent |= origins
            if not answer.is_success:
                for origin in sorted(origins):
                    reasons.setdefault(origin, answer.reason())
            # §3.2: a <Warning> beside <Success>: the message was applied, but EQC changed or
            # ignored some values (7013: a rate out of threshold, inventory under the base
            # allocation). The entries stay accepted; the warnings reach the sync log.
            warnings += [f"EQC warning {code}: {text}" for code, text in answer.warnings]
        entries = tuple(
            EntryResult(
                index,
                accepted=index not in reasons,
                reason=reasons.get(index),
                sent=index in sent and index not in plan.partly_unsent,
            )
            for index in range(len(updates))
        )
        return entries, tuple(warnings)

    async def read_availability(
        self, room_type_codes: Sequence[str], dates: DateRange
    ) -> dict[str, dict[date, int]]:
        """PARR: rooms to sell per room type and date (dates EQC holds nothing for left out)."""
        held: dict[str, dict[date, int]] = {code: {} for code in room_type_codes}
        products = dict.fromkeys(room_type_codes, ())
        for piece in dates.pieces(DAYS_PER_CALL):
            root = await self._client.parr(
                parr_request(
                    *self._credentials(), self.config.hotel_id, products, piece, rates=False
                )
            )
            for code, days in read_inventory(root).items():
                if code in held:
                    held[code].update(days)
        return held

    async def read_rates(
        self, rate_plans: Sequence[RatePlanKey], dates: DateRange
    ) -> dict[RatePlanKey, dict[date, RateValues]]:
        """PARR: prices, restrictions and the closed flag per rate plan and date."""
        held: dict[RatePlanKey, dict[date, RateValues]] = {plan: {} for plan in rate_plans}
        products: dict[str, list[str]] = {}
        for room_id, rate_id in rate_plans:
            products.setdefault(room_id, []).append(rate_id)
        for piece in dates.pieces(DAYS_PER_CALL):
            root = await self._client.parr(
                parr_request(
                    *self._credentials(), self.config.hotel_id, products, piece, rates=True
                )
            )
            for plan, days in read_rate_values(root).items():
                if plan in held:
                    held[plan].update(days)
        return held

    async def pull_revisions(self, cursor: str | None) -> RevisionPage:
        """BR: pending (and, on a pass's first page, retrieved) transactions, 125 at most.

        Repeated until a page is empty: past 125 the rest waits for the next request, and a
        booking's next transaction (a Modify after its Book) is handed out only once the one
        before was retrieved (BR definition), so one pass reads them all.
        """
        statuses = FIRST_PAGE_STATUSES if cursor is None else (NEXT_PAGE,)
        root = await self._client.br(
            br_request(*self._credentials(), self.config.hotel_id, statuses)
        )
        found = retrieved(root, self._now(), self.config.currency)
        has_more = found.count > 0
        return RevisionPage(
            found.revisions,
            NEXT_PAGE if has_more else None,
            has_more=has_more,
            unreadable=found.unreadable,
        )

    def booking_id_of(self, revision_id: str) -> str | None:
        try:
            return TransactionKey.parse(revision_id).booking_id
        except ValueError:
            return None

    async def confirm_revision(self, revision_id: str, reservation_number: str) -> None:
        """BC with innsync's number for the booking, after innsync committed the revision."""
        await self._confirm(revision_id, reservation_number)

    async def acknowledge_revision(self, revision_id: str) -> None:
        """BC when innsync holds no reservation for the revision: the number is
        ``confirm_prefix`` + Expedia's booking id."""
        await self._confirm(revision_id, None)

    async def _confirm(self, revision_id: str, number: str | None) -> None:
        # A repeated BC is taken again, so resending after a lost answer is harmless.
        try:
            key = TransactionKey.parse(revision_id)
        except ValueError as exc:
            raise ChannelRejectedError(str(exc)) from exc
        confirm_number = number or f"{self.config.confirm_prefix}{key.booking_id}"
        body = bc_request(
            *self._credentials(), self.config.hotel_id, key, confirm_number, self._now()
        )
        await self._client.bc(body)


def _result(entries: tuple[EntryResult, ...], warnings: tuple[str, ...]) -> PushResult:
    """EQC's warnings (values it changed or ignored), then each refusal noted as the other
    adapters note it."""
    refused = tuple(f"entry {e.index}: {e.reason}" for e in entries if not e.accepted)
    return PushResult(entries, None, warnings + refused)

"""The Channex.io adapter, outbound ARI: availability, rates and restrictions of one property.

Speaks Channex API v1 (https://app.channex.io/api/v1), documented at
https://docs.channex.io/api-v.1-documentation/ and summarised, with sources, in innsync's
``shared/channels/channex.md`` (section numbers below point there). Booking revisions and
webhooks are not handled here yet; ``CHECKLIST.yaml`` tracks what is done.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, date, datetime, tzinfo
from typing import Any

import httpx

from innsync.channels.channex.client import AriWriteAnswer, ChannexClient, WallClock
from innsync.channels.channex.config import ChannexConfig
from innsync.channels.channex.mapping import (
    READ_FIELDS,
    OutgoingValues,
    availability_request,
    entry_results,
    first_open_date,
    property_zone,
    rate_values_from_channex,
    restrictions_request,
)
from innsync.channels.errors import ChannelRejectedError, MappingMissingError
from innsync.channels.types import (
    AvailabilityUpdate,
    ChannelLimits,
    PushRequest,
    PushResult,
    RatePlanKey,
    RateUpdate,
    RateValues,
)
from innsync.stay_dates import DateRange

CHANNEX_LIMITS = ChannelLimits(
    # §1.3: "10 restrictions/price requests per minute per property and 10 availability
    # requests per minute per property", two budgets of one property each.
    requests_per_window=10,
    window_seconds=60.0,
    window_scope="property",
    separate_budgets=True,
    # §1.3: at most 10 MB per JSON call. The planner sizes requests in innsync's neutral JSON;
    # a Channex value spells each occupancy price as an object, up to 2.3 times the neutral
    # size with 18 occupancies (§1.3's maximum; measured in test_channex_mapping), so 4 MB
    # declared keeps every real call under 10 MB. The client still measures the real body.
    max_request_bytes=4_000_000,
    # §1.3: "no limit on the number of changes in one message".
    max_entries_per_request=None,
    # §1.5: date_from/date_to ranges, and `days` to keep only some weekdays of a range.
    understands_ranges=True,
    understands_weekdays=True,
    # §1.5: "leave out fields you do not want to change. Partial updates leave other fields
    # untouched".
    accepts_partial_rates=True,
)

Send = Callable[[Sequence[dict[str, Any]]], Awaitable[AriWriteAnswer]]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class ChannexAdapter:
    """One Channex property: pushes and reads back its availability, rates and restrictions."""

    name = "channex"

    def __init__(
        self, config: ChannexConfig, http: httpx.AsyncClient, *, now: WallClock = _utc_now
    ) -> None:
        self.config = config
        self._client = ChannexClient(http, config, now)
        self._now = now
        self._zone: tzinfo | None = None

    @property
    def limits(self) -> ChannelLimits:
        return CHANNEX_LIMITS

    async def test_connection(self) -> None:
        """Read the configured property: proves the key works and covers this property."""
        await self._read_zone()

    async def push_availability(self, request: PushRequest[AvailabilityUpdate]) -> PushResult:
        outgoing = availability_request(
            request.updates, self.config.property_id, await self._first_open_date()
        )
        return await self._push(len(request.updates), outgoing, self._client.push_availability)

    async def push_rates(self, request: PushRequest[RateUpdate]) -> PushResult:
        outgoing = restrictions_request(
            request.updates, self.config.property_id, await self._first_open_date()
        )
        return await self._push(len(request.updates), outgoing, self._client.push_restrictions)

    async def read_availability(
        self, room_type_codes: Sequence[str], dates: DateRange
    ) -> dict[str, dict[date, int]]:
        shown = await self._client.read_availability(dates.start, dates.last)
        return {
            code: {day: units for day, units in shown.get(code, {}).items() if day in dates}
            for code in room_type_codes
        }

    async def read_rates(
        self, rate_plans: Sequence[RatePlanKey], dates: DateRange
    ) -> dict[RatePlanKey, dict[date, RateValues]]:
        shown = await self._client.read_restrictions(dates.start, dates.last, READ_FIELDS)
        per_person = {
            option.id
            for option in await self._client.rate_plan_options()
            if option.sell_mode == "per_person"
        }
        return {
            key: {
                day: rate_values_from_channex(values, is_per_person=key[1] in per_person)
                for day, values in shown.get(key[1], {}).items()
                if day in dates
            }
            for key in rate_plans
        }

    async def _first_open_date(self) -> date:
        # §1.5: past dates are refused, and "today" is the property's, so its timezone is read
        # once per adapter (one adapter lives as long as its connection's settings).
        zone = self._zone or await self._read_zone()
        return first_open_date(self._now(), zone)

    async def _read_zone(self) -> tzinfo:
        try:
            found = await self._client.get_property()
        except ChannelRejectedError as exc:
            # A property the key cannot read is a setup problem for a person, not a refusal of
            # the ARI about to be sent: the connection needs attention, the entries stay queued.
            raise MappingMissingError(
                f"the Channex property {self.config.property_id} cannot be read: {exc}"
            ) from exc
        self._zone = property_zone(found.timezone)
        return self._zone

    async def _push(self, entry_count: int, outgoing: OutgoingValues, send: Send) -> PushResult:
        if not outgoing.values:
            # Nothing Channex can hold (past dates, fields it does not have): no call is spent.
            return PushResult(PushResult.all_accepted(entry_count).entries, None, outgoing.notes)
        answer = await send(outgoing.values)
        entries = entry_results(
            entry_count, outgoing, answer.meta.warnings, is_nothing_accepted=answer.data == []
        )
        refused = tuple(f"entry {e.index}: {e.reason}" for e in entries if not e.accepted)
        return PushResult(entries, answer.task_id, outgoing.notes + refused)

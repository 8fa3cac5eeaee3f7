"""The Channex.io adapter, outbound ARI: availability, rates and restrictions of one property.

Speaks Channex API v1 (https://app.channex.io/api/v1), documented at
https://docs.channex.io/api-v.1-documentation/ and summarised, with sources, in innsync's
``shared/channels/channex.md`` (section numbers below point there). Provisioning and the
remote catalog live in ``provisioning.py``; booking revisions, the feed, acknowledgements and
webhooks in ``bookings.py`` and ``webhooks.py``. ``CHECKLIST.yaml`` tracks what is done.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from typing import Any

import httpx

from innsync.channels.channex.answers import AriWriteAnswer
from innsync.channels.channex.bookings import (
    owned_revisions_from_page,
    revision_from_booking,
    revision_from_channex,
    revisions_from_page,
)
from innsync.channels.channex.client import ChannexClient
from innsync.channels.channex.config import ChannexConfig
from innsync.channels.channex.mapping import (
    MIDNIGHT_MARGIN,
    READ_FIELDS,
    OutgoingValues,
    availability_request,
    entry_results,
    first_open_date,
    match_warnings,
    open_dates,
    property_zone,
    rate_values_from_channex,
    restrictions_request,
    shows_rate_values,
)
from innsync.channels.channex.provisioning import ChannexProvisioner
from innsync.channels.channex.webhooks import (
    SECRET_HEADER,
    SUBSCRIBED_EVENTS,
    parse_envelope,
    verify_secret_header,
)
from innsync.channels.errors import (
    ChannelRejectedError,
    ChannelUnavailableError,
    MappingMissingError,
)
from innsync.channels.http import WallClock
from innsync.channels.subscriptions import plan_subscriptions
from innsync.channels.types import (
    AccountRevisionPage,
    AvailabilityUpdate,
    BookingAction,
    BookingRevision,
    ChannelLimits,
    ChannelNotice,
    EntryResult,
    OtaChannel,
    PropertyCatalog,
    ProvisionResult,
    PushRequest,
    PushResult,
    RatePlanKey,
    RateUpdate,
    RateValues,
    RemoteCatalog,
    RevisionPage,
    ValueConstraints,
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
    # §1.5: `rates` sets each listed occupancy's price; an occupancy left out keeps its own
    # (occupancy options are priced apart), so a changed price list sends only what changed.
    accepts_partial_occupancy_prices=True,
    # §1.5: "rate: greater than 0", as a decimal string or an integer of minor units, so a
    # price finer than a cent cannot be said (money() sends it unrounded, to be refused).
    values=ValueConstraints(min_price=Decimal("0.01"), price_decimal_places=2),
    # §1.5: past dates are refused, a range starting in the past whole; a call takes up to its
    # time-out (30 s) plus clock skew to arrive, so the last two minutes of a day count as past.
    today_margin_seconds=MIDNIGHT_MARGIN.total_seconds(),
)

logger = logging.getLogger(__name__)

# §1.6: the feed's default page is 10; a larger page is asked for, and `meta.total` says
# whether more follow if Channex keeps to 10.
FEED_PAGE_LIMIT = 100
MAX_FEED_PAGES = 50

Send = Callable[[Sequence[dict[str, Any]]], Awaitable[AriWriteAnswer]]
Verify = Callable[[Sequence[int]], Awaitable[set[int]]]
"""Read back the entries (by index) of a call whose answer cannot be placed; those shown."""


def _open_span(
    updates: Iterable[AvailabilityUpdate | RateUpdate], first_open: date
) -> tuple[date, date] | None:
    """The first and last open date of ``updates``, to read them back in one call."""
    days = [day for update in updates for day in open_dates(update, first_open)]
    return (min(days), max(days)) if days else None


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _feed_position(cursor: str | None) -> tuple[int, int]:
    page, _, seen = (cursor or "").partition(":")
    if page.isdigit() and seen.isdigit():
        return max(int(page), 1), int(seen)
    return 1, 0


def _after_feed_page(page: int, seen: int, count: int, total: int | None) -> str | None:
    """The cursor after a feed page of ``count`` resources (``seen`` on the pages before it);
    ``None`` when the feed has no more, or the turn has read its share of pages."""
    seen += count
    more = count > 0 and (count >= FEED_PAGE_LIMIT or (total is not None and total > seen))
    return f"{page + 1}:{seen}" if more and page < MAX_FEED_PAGES else None


def _attribute(resource: object, name: str) -> str | None:
    attributes = resource.get("attributes") if isinstance(resource, Mapping) else None
    value = attributes.get(name) if isinstance(attributes, Mapping) else None
    return value if isinstance(value, str) else None


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
        """Read the configured property: proves the key works and covers this property.

        Before provisioning there is no property yet; listing the groups proves the key.
        """
        if self.config.property_id is None:
            await self._client.list_groups()
            return
        await self._read_zone()

    async def provision_property(self, catalog: PropertyCatalog) -> ProvisionResult:
        """Create or match the tenant's group, the property, its room types and rate plans."""
        provisioner = ChannexProvisioner(self._client, self.config.cancellation_policies)
        return await provisioner.provision(catalog, self.config.property_id)

    async def read_remote_catalog(self) -> RemoteCatalog:
        """The room types and rate plans of the connection's property, every page of them."""
        return await ChannexProvisioner(self._client).read_catalog(self._client.property_id)

    async def push_availability(self, request: PushRequest[AvailabilityUpdate]) -> PushResult:
        first_open = await self._first_open_date(request.today)
        outgoing = availability_request(request.updates, self._client.property_id, first_open)

        async def verify(doubtful: Sequence[int]) -> set[int]:
            updates = {index: request.updates[index] for index in doubtful}
            span = _open_span(updates.values(), first_open)
            if span is None:
                return set()
            shown = (await self._client.read_availability(*span)).get
            return {
                index
                for index, update in updates.items()
                if all(
                    shown(update.room_type_code, {}).get(day) == update.availability
                    for day in open_dates(update, first_open)
                )
            }

        return await self._push(
            len(request.updates), outgoing, self._client.push_availability, verify
        )

    async def push_rates(self, request: PushRequest[RateUpdate]) -> PushResult:
        first_open = await self._first_open_date(request.today)
        outgoing = restrictions_request(request.updates, self._client.property_id, first_open)

        async def verify(doubtful: Sequence[int]) -> set[int]:
            updates = {index: request.updates[index] for index in doubtful}
            span = _open_span(updates.values(), first_open)
            if span is None:
                return set()
            shown = await self._client.read_restrictions(*span, READ_FIELDS)
            verified = set()
            for index, update in updates.items():
                held = shown.get(update.rate_plan_code, {})
                days = open_dates(update, first_open)
                if all(day in held for day in days) and shows_rate_values(
                    update.values, [held[day] for day in days]
                ):
                    verified.add(index)
            return verified

        return await self._push(
            len(request.updates), outgoing, self._client.push_restrictions, verify
        )

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

    # Bookings (§1.6, §1.7; see bookings.py and webhooks.py).

    @property
    def pull_interval_seconds(self) -> float:
        return self.config.feed_poll_seconds

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> None:
        secret = self.config.webhook_secret
        verify_secret_header(headers, body, None if secret is None else secret.get_secret_value())

    async def parse_webhook(
        self, headers: Mapping[str, str], body: bytes
    ) -> Sequence[BookingRevision | ChannelNotice]:
        """A ``booking`` trigger is fetched as its revision; other events become notices
        (``non_acked_booking`` both: the revision may have left the feed)."""
        revision_id, notice = parse_envelope(body)
        notices = () if notice is None else (notice,)
        if revision_id is None:
            return notices
        answer = await self._client.booking_revision(revision_id)
        resource = answer.get("data") if isinstance(answer, Mapping) else None
        owner = _attribute(resource, "property_id")
        if owner is not None and owner != self._client.property_id:
            raise ChannelRejectedError(
                f"revision {revision_id} belongs to Channex property {owner}, not this one"
            )
        return (*notices, revision_from_channex(resource))

    async def pull_revisions(self, cursor: str | None) -> RevisionPage:
        """A page of the unacknowledged feed; the cursor is ``"<next page>:<seen so far>"``.

        Acknowledged revisions leave the feed, so every turn starts again from page 1.
        """
        page, seen = _feed_position(cursor)
        answer = await self._client.booking_feed(page, FEED_PAGE_LIMIT)
        revisions, count, total = revisions_from_page(answer)
        after = _after_feed_page(page, seen, count, total)
        return RevisionPage(tuple(revisions), after, has_more=after is not None)

    @property
    def feed_property_id(self) -> str | None:
        return self.config.property_id

    @property
    def member_interval_seconds(self) -> float:
        return self.config.channels_poll_seconds

    async def pull_account_revisions(self, cursor: str | None) -> AccountRevisionPage:
        """A page of the feed of every property the key reaches (§1.6), with each revision's
        property; the cursor is as :meth:`pull_revisions`'. A revision naming no property
        cannot be placed and is left out (it stays in the feed, unacknowledged)."""
        page, seen = _feed_position(cursor)
        answer = await self._client.booking_feed(page, FEED_PAGE_LIMIT, account_wide=True)
        owned, count, total = owned_revisions_from_page(answer)
        for owner, revision in owned:
            if owner is None:
                logger.warning(
                    "a Channex revision of the account feed names no property",
                    extra={"revision_id": revision.revision_id},
                )
        after = _after_feed_page(page, seen, count, total)
        return AccountRevisionPage(
            tuple((owner, revision) for owner, revision in owned if owner is not None),
            after,
            has_more=after is not None,
        )

    async def read_booking(self, channel_booking_id: str) -> BookingRevision:
        """§1.6 ``GET /bookings/:id``: the booking's latest revision (a forced pull)."""
        answer = await self._client.booking(channel_booking_id)
        resource = answer.get("data") if isinstance(answer, Mapping) else None
        owner = _attribute(resource, "property_id")
        if owner is not None and owner != self._client.property_id:
            raise ChannelRejectedError(
                f"booking {channel_booking_id} belongs to Channex property {owner}, not this one"
            )
        return revision_from_booking(resource)

    async def list_bookings(self, arrivals: DateRange) -> Sequence[BookingRevision]:
        """§1.6 ``GET /bookings`` filtered by arrival date (inclusive on Channex), page by page;
        used for the reconciliation report only, as the certification asks."""
        found: list[BookingRevision] = []
        for page in range(1, MAX_FEED_PAGES + 1):
            answer = await self._client.bookings_arriving(
                arrivals.start, arrivals.last, page, FEED_PAGE_LIMIT
            )
            data = answer.get("data") if isinstance(answer, Mapping) else None
            if not isinstance(data, list):
                raise ChannelUnavailableError("the Channex bookings answer holds no data list")
            found.extend(revision_from_booking(resource) for resource in data)
            if len(data) < FEED_PAGE_LIMIT:
                break
        return found

    async def read_ota_channels(self) -> Sequence[OtaChannel]:
        """The OTAs Channex lists for the property; one switched off no longer sells, so it is
        reported disconnected, as ``disconnected_channel`` would have said."""
        return [
            OtaChannel(
                channel.id,
                (channel.channel or channel.title or "unknown")[:64],
                "active" if channel.is_active else "disconnected",
            )
            for channel in await self._client.list_channels()
        ]

    async def remove_remote_rate_plan(self, remote_id: str) -> None:
        await self._client.delete_rate_plan(remote_id)

    async def remove_remote_room_type(self, remote_id: str) -> None:
        await self._client.delete_room_type(remote_id)

    async def report_booking_action(self, channel_booking_id: str, action: BookingAction) -> None:
        """§1.6: no-show (with waived fees or a penalty), invalid card, cancel for it."""
        body: dict[str, Any] | None = None
        if action.kind == "no_show":
            report: dict[str, Any] = {"waived_fees": action.waived_fees}
            if action.penalty_amount is not None and not action.waived_fees:
                report["penalty_amount"] = f"{action.penalty_amount:.2f}"
            body = {"no_show_report": report}
        await self._client.booking_action(channel_booking_id, action.kind, body)

    async def acknowledge_revision(self, revision_id: str) -> None:
        await self._client.ack_revision(revision_id)

    async def register_webhooks(self, callback_url: str) -> int:
        """Subscribe ``callback_url`` to the booking and health events innsync acts on, with the
        secret header; subscriptions whose header is stale are updated. Returns how many
        subscriptions were created or updated."""
        secret = self.config.webhook_secret
        if secret is None:
            raise ChannelRejectedError("set the connection's webhook_secret before registering")
        wanted = {SECRET_HEADER: secret.get_secret_value()}
        property_id = self._client.property_id
        existing = await self._client.list_webhooks()
        plan = plan_subscriptions(
            [
                {
                    "property_id": property_id,
                    "callback_url": callback_url,
                    "event_mask": event,
                    "headers": wanted,
                    "is_active": True,
                    "send_data": True,
                    "request_params": {},
                }
                for event in SUBSCRIBED_EVENTS
            ],
            existing,
            wanted_key=lambda fields: (fields["callback_url"], property_id, fields["event_mask"]),
            existing_key=lambda hook: (hook.callback_url, hook.property_id, hook.event_mask),
            is_current=lambda hook, _: hook.headers == wanted and hook.is_active and hook.send_data,
        )
        # Stale hooks are left in place: another innsync (or person) may own a hook on the
        # same property, and Channex delivers to each subscription independently.
        for fields in plan.create:
            await self._client.create_webhook(fields)
        for hook, fields in plan.update:
            await self._client.update_webhook(hook.id, fields)
        return plan.changes

    async def _first_open_date(self, today: date | None) -> date:
        # §1.5: past dates are refused, and "today" is the property's. The engine passes the
        # property's today (its time zone, CHANNEX_LIMITS' margin applied); without it the
        # timezone is read from Channex once per adapter.
        if today is not None:
            return today
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

    async def _push(
        self, entry_count: int, outgoing: OutgoingValues, send: Send, verify: Verify
    ) -> PushResult:
        if not outgoing.values:
            # Nothing Channex can hold (past dates, fields it does not have): no call is spent,
            # and nothing is sent, so nothing may be recorded as acknowledged.
            unsent = tuple(
                EntryResult(index, accepted=True, sent=False) for index in range(entry_count)
            )
            return PushResult(unsent, None, outgoing.notes)
        answer = await send(outgoing.values)
        is_nothing_accepted = answer.data == []
        verified: set[int] = set()
        matched = match_warnings(outgoing, answer.meta.warnings)
        if matched.unplaced and not is_nothing_accepted:
            # A refusal innsync cannot place on one entry: rather than refusing every entry of
            # the call (dead letters for values Channex took), read the dates back and accept
            # the entries no warning names whose values Channex shows.
            doubtful = sorted(set(outgoing.origins) - set(matched.reasons))
            verified = await verify(doubtful)
        entries = entry_results(
            entry_count,
            outgoing,
            answer.meta.warnings,
            is_nothing_accepted=is_nothing_accepted,
            verified=verified,
        )
        refused = tuple(f"entry {e.index}: {e.reason}" for e in entries if not e.accepted)
        return PushResult(entries, answer.task_id, outgoing.notes + refused)

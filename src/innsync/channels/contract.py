"""What an adapter can do: a small base protocol plus one protocol per capability.

An adapter class simply implements the methods of the capabilities it has; what the admin shows
and what the worker calls is derived from them by :func:`capabilities_of`, never declared twice.
Adapters are built per connection with an injected ``httpx.AsyncClient``, so every call is async.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Literal, Protocol, runtime_checkable

from innsync.channels.types import (
    AccountRevisionPage,
    AriSnapshot,
    AvailabilityUpdate,
    BookingAction,
    BookingAnswer,
    BookingCancellation,
    BookingConfirmation,
    BookingRevision,
    ChannelLimits,
    ChannelNotice,
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
)
from innsync.stay_dates import DateRange


@runtime_checkable
class ChannelAdapter(Protocol):
    """What every adapter offers: its kind, its limits and a connection test."""

    @property
    def name(self) -> str: ...

    @property
    def limits(self) -> ChannelLimits: ...

    async def test_connection(self) -> None:
        """Return when the credentials work; raise a ``ChannelError`` otherwise."""


@runtime_checkable
class PushesAvailability(Protocol):
    async def push_availability(self, request: PushRequest[AvailabilityUpdate]) -> PushResult:
        """Send availability; refused entries come back in the result, not as an error."""


@runtime_checkable
class PushesRates(Protocol):
    async def push_rates(self, request: PushRequest[RateUpdate]) -> PushResult:
        """Send rates and restrictions; refused entries come back in the result."""


@runtime_checkable
class PushesAriTogether(Protocol):
    """A channel whose messages can carry availability and rates of one pass together.

    Booking.com puts rooms to sell and restrictions in the same OTA_HotelAvailNotif: sent
    apart they cost an extra request. The pusher hands over one request of each kind when both
    are due and they spend the same budget; the answer is one ``PushResult`` per request, each
    indexed like its own request's updates, and recorded as if they had come alone.
    """

    async def push_ari(
        self,
        availability: PushRequest[AvailabilityUpdate],
        rates: PushRequest[RateUpdate],
    ) -> tuple[PushResult, PushResult]:
        """Send both requests in as few channel requests as the channel allows."""


@runtime_checkable
class ReadsBackAri(Protocol):
    async def read_availability(
        self, room_type_codes: Sequence[str], dates: DateRange
    ) -> dict[str, dict[date, int]]:
        """What the channel holds now, to verify pushes and audit drift."""

    async def read_rates(
        self, rate_plans: Sequence[RatePlanKey], dates: DateRange
    ) -> dict[RatePlanKey, dict[date, RateValues]]:
        """The rates and restrictions the channel holds now, per rate plan and stay date."""


@runtime_checkable
class PullsReservations(Protocol):
    @property
    def pull_interval_seconds(self) -> float:
        """How often the reconciler reads the channel's revisions (its cadence)."""

    async def pull_revisions(self, cursor: str | None) -> RevisionPage:
        """A page of booking revisions from ``cursor`` (from the start when ``None``).

        The page's ``next_cursor`` is stored and passed to the next call; ``has_more`` asks for
        that call at once. A feed of unacknowledged revisions may return ``None`` to start
        over next time; a ``modifiedFrom``-style channel returns its new high-water mark.
        Revisions may repeat across pages and passes: the inbox keeps each one once.
        """


@runtime_checkable
class PullsAccountRevisions(PullsReservations, Protocol):
    """A channel whose revision feed covers every property of the account a key belongs to
    (Channex, channex.md §1.6). Connections that share an operator's channel account read it
    once per turn for all of them (``inbox.account_feeds``, at ``pull_interval_seconds``)
    instead of once per property."""

    @property
    def feed_property_id(self) -> str | None:
        """The channel's id of the connection's property, as the feed names it; ``None``
        before the property exists on the channel."""

    @property
    def member_interval_seconds(self) -> float:
        """How often a connection whose feed is read account-wide still has a turn of its own
        (the OTAs behind it are listed then)."""

    async def pull_account_revisions(self, cursor: str | None) -> AccountRevisionPage:
        """A page of the account's revisions from ``cursor``, as ``pull_revisions``."""


WebhookMessage = BookingRevision | BookingCancellation | ChannelNotice | AriSnapshot | BookingAnswer
"""What one webhook may stand for (see ``ReceivesWebhooks.parse_webhook``)."""


@runtime_checkable
class ReceivesWebhooks(Protocol):
    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> None:
        """Raise ``BadSignatureError`` unless the request really comes from the channel."""

    async def parse_webhook(
        self, headers: Mapping[str, str], body: bytes
    ) -> Sequence[WebhookMessage]:
        """What a stored, verified webhook stands for: booking revisions (fetched if it only
        hints at them), cancellations naming only the booking, notices about the channel
        itself and, on the marketplace side, the source's ARI (``AriSnapshot``, stored like a
        pull) and the hotel's answers to pushed bookings (``BookingAnswer``)."""


StoredOutcome = Literal["stored", "duplicate"]


@dataclass(frozen=True, slots=True)
class WebhookAnswer:
    """The HTTP answer a channel expects once its webhook is stored."""

    status_code: int
    body: Mapping[str, object] = field(default_factory=dict)


@runtime_checkable
class AnswersWebhooks(Protocol):
    """A channel that expects its own answer to a webhook (innsync's default otherwise)."""

    def webhook_answer(self, outcome: StoredOutcome, body: bytes) -> WebhookAnswer:
        """The answer to a call already stored (``duplicate``: stored before).

        Called after the raw body is committed; must not raise and should never be a 5xx for
        a stored call, since channels retry those.
        """


@runtime_checkable
class CancelsForGood(Protocol):
    """A channel whose cancellations are final: no later revision revives the booking.

    For channels that give no reliable order of a booking's revisions (no revision time), a
    modification delivered after the cancellation must not undo it.
    """

    @property
    def cancellations_are_final(self) -> bool: ...


@runtime_checkable
class AcknowledgesReservations(Protocol):
    async def acknowledge_revision(self, revision_id: str) -> None:
        """Tell the channel the revision is stored, so it stops redelivering it.

        Called after the revision's transaction committed, and again until it succeeds, so it
        must be harmless to repeat. ``ChannelRejectedError`` means the channel will never take
        it (e.g. an unknown id): innsync stops trying.
        """


@runtime_checkable
class ConfirmsWithReservationNumber(Protocol):
    """An acknowledgement that carries innsync's number for the booking (Expedia's BC).

    A refinement of ``AcknowledgesReservations``: when innsync finds the reservation a revision
    was applied to, it calls ``confirm_revision`` with the reservation's id (32 hex digits)
    instead of ``acknowledge_revision``; the same rules hold (after the commit, repeated until
    taken, ``ChannelRejectedError`` stops it).
    """

    def booking_id_of(self, revision_id: str) -> str | None:
        """The channel's booking id a revision id names (``None`` when it names none)."""

    async def confirm_revision(self, revision_id: str, reservation_number: str) -> None:
        """Acknowledge the revision with innsync's number for the booking."""


@runtime_checkable
class PushesReservations(Protocol):
    async def push_reservation(self, revision: BookingRevision) -> str:
        """Create or change a booking on the channel; return the channel's booking id."""


@runtime_checkable
class ReadsRemoteCatalog(Protocol):
    async def read_remote_catalog(self) -> RemoteCatalog:
        """The room types and rate plans the channel holds for the connection's property."""


@runtime_checkable
class RemovesRemoteRatePlans(Protocol):
    async def remove_remote_rate_plan(self, remote_id: str) -> None:
        """Delete one of the property's rate plans on the channel; ``ChannelRejectedError``
        when the channel keeps it (e.g. an OTA still maps it)."""


@runtime_checkable
class RemovesRemoteRoomTypes(Protocol):
    async def remove_remote_room_type(self, remote_id: str) -> None:
        """Delete one of the property's room types on the channel; ``ChannelRejectedError``
        when the channel keeps it (e.g. an OTA still maps it)."""


@runtime_checkable
class ProvisionsProperty(Protocol):
    async def provision_property(self, catalog: PropertyCatalog) -> ProvisionResult:
        """Create or match the property, room types and rate plans; safe to run again.

        A second run with the same catalog creates nothing and returns the same ids.
        """


@runtime_checkable
class RegistersWebhooks(Protocol):
    async def register_webhooks(self, callback_url: str) -> int:
        """Subscribe ``callback_url`` to the channel's booking and health events, with the
        connection's credentials for innsync to verify; safe to run again. Returns how many
        subscriptions were created or updated."""


@runtime_checkable
class ReadsOtaChannels(Protocol):
    async def read_ota_channels(self) -> Sequence[OtaChannel]:
        """The OTAs connected behind the channel for the connection's property, as it lists
        them now; an OTA it no longer lists is gone."""


@runtime_checkable
class ReportsBookingActions(Protocol):
    async def report_booking_action(self, channel_booking_id: str, action: BookingAction) -> None:
        """Tell the OTA (through the channel) about one of its bookings.

        ``ActionNotSupportedError`` when the OTA lacks the action; other refusals as usual.
        """


@runtime_checkable
class SourcesAri(Protocol):
    async def pull_ari(self, window: DateRange) -> AriSnapshot:
        """The channel's ARI over ``window`` for a property whose ARI it owns (marketplace side):
        read periodically to repair what a lost webhook left out."""


@runtime_checkable
class ConfirmsBookings(Protocol):
    async def booking_status(self, channel_booking_id: str) -> BookingConfirmation:
        """Whether the hotel accepted a booking pushed to it (``push_reservation``'s id)."""


@runtime_checkable
class ReadsBooking(Protocol):
    async def read_booking(self, channel_booking_id: str) -> BookingRevision:
        """One booking as the channel holds it now (its latest revision), for an operator's
        forced pull; ``ChannelRejectedError`` when the channel does not know it."""


@runtime_checkable
class ListsBookings(Protocol):
    async def list_bookings(self, arrivals: DateRange) -> Sequence[BookingRevision]:
        """Every booking of the connection's property arriving in ``arrivals`` (half-open),
        as the channel holds it now (latest revision, cancelled ones included); for the
        reconciliation report, never for receiving bookings."""


CAPABILITY_PROTOCOLS: tuple[type, ...] = (
    PushesAvailability,
    PushesRates,
    PushesAriTogether,
    ReadsBackAri,
    PullsReservations,
    PullsAccountRevisions,
    ReceivesWebhooks,
    AcknowledgesReservations,
    PushesReservations,
    ReadsRemoteCatalog,
    ProvisionsProperty,
    RegistersWebhooks,
    ReadsOtaChannels,
    ReportsBookingActions,
    RemovesRemoteRatePlans,
    RemovesRemoteRoomTypes,
    SourcesAri,
    ConfirmsBookings,
    ReadsBooking,
    ListsBookings,
)


def _capability_name(protocol: type) -> str:
    """``PushesAvailability`` becomes ``pushes_availability``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", protocol.__name__).lower()


CAPABILITIES: tuple[str, ...] = tuple(_capability_name(p) for p in CAPABILITY_PROTOCOLS)


def capabilities_of(adapter: object) -> frozenset[str]:
    """The capability names the adapter implements, e.g. ``{"pushes_rates", ...}``."""
    return frozenset(
        name
        for name, protocol in zip(CAPABILITIES, CAPABILITY_PROTOCOLS, strict=True)
        if isinstance(adapter, protocol)
    )

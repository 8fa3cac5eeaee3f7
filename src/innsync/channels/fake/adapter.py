"""The fake channel adapter: keeps pushed ARI in memory, enforces its limits and fails on request.

It is the development and test stand-in for a real channel (no HTTP), so it behaves like one:
over its request budget it answers "unavailable" with a retry-after, oversize requests are
refused whole, unknown codes and unsupported shapes are refused entry by entry.

Webhooks (``ReceivesWebhooks``): the fake channel pushes one booking revision per request to
``POST /hooks/<connection token>``. The caller is trusted when the ``X-Innsync-Fake-Secret``
header equals the connection's ``webhook_secret``. The body is one revision in innsync's neutral
JSON form (:mod:`innsync.channels.revision_json`); anything else is refused with
``ChannelRejectedError`` saying what is wrong.

Feed (``PullsReservations``, ``AcknowledgesReservations``): revisions given to :meth:`publish`
wait in an unacknowledged feed, as Channex's booking-revision feed does: pulled oldest first in
pages, and gone from the feed once acknowledged.

Marketplace side (``SourcesAri``, ``PushesReservations``, ``ConfirmsBookings``): the fake plays a
hotel's own system. :meth:`hold_ari` sets the ARI it owns (read by ``pull_ari``); pushed bookings
are kept by their idempotency reference (innsync's reservation id), so a retried push stores
nothing twice; each hotel answer is scripted (:meth:`script_booking_pushes`,
:meth:`answer_booking`) and a booking nobody answered stays ``pending``.
"""

from __future__ import annotations

import dataclasses
import hmac
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

from innsync.channels.encoding import request_json_size
from innsync.channels.errors import (
    BadSignatureError,
    ChannelAuthError,
    ChannelRejectedError,
    ChannelThrottledError,
    ChannelUnavailableError,
)
from innsync.channels.fake.config import FakeChannelConfig
from innsync.channels.registry import Clock
from innsync.channels.revision_json import revision_from_bytes
from innsync.channels.types import (
    AriSnapshot,
    AvailabilityUpdate,
    BookingConfirmation,
    BookingRevision,
    ChannelLimits,
    EntryResult,
    PushKind,
    PushRequest,
    PushResult,
    RatePlanKey,
    RateUpdate,
    RateValues,
    RevisionPage,
)
from innsync.stay_dates import DateRange

FailureKind = Literal["unavailable", "throttled", "auth"]
BookingPushOutcome = Literal["store", "reject", "unavailable", "lost"]
"""A scripted answer to a booking push: ``lost`` stores the booking but answers unavailable, as
a call that timed out after the hotel's system took it."""
Outcome = Literal["accepted", "partial", "rejected", "unavailable", "rate_limited", "auth_failed"]
EntryRejection = Callable[[AvailabilityUpdate | RateUpdate], str | None]
"""Returns why the channel refuses an entry, or ``None`` to let it through."""
SECRET_HEADER = "x-innsync-fake-secret"  # noqa: S105  (a header name, not a secret)
# Revisions per page of the fake feed, as Channex's default page size (§1.6).
FEED_PAGE_SIZE = 10


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One push the fake channel received, whatever became of it."""

    kind: PushKind
    at: float
    entry_count: int
    size_bytes: int
    outcome: Outcome
    request: PushRequest[AvailabilityUpdate] | PushRequest[RateUpdate]
    task_id: str | None = None


@dataclass(slots=True)
class _InjectedFailure:
    remaining: int
    kind: FailureKind
    retry_after: float | None


class FakeChannel:
    """An in-memory channel implementing availability and rate pushes and read-back."""

    name = "fake"

    def __init__(
        self, config: FakeChannelConfig | None = None, *, clock: Clock = time.monotonic
    ) -> None:
        self.config = config or FakeChannelConfig()
        self._clock = clock
        self._availability: dict[str, dict[date, int]] = {}
        self._rates: dict[RatePlanKey, dict[date, RateValues]] = {}
        self._requests: list[RecordedRequest] = []
        self._grants: dict[str, deque[float]] = {}
        self._failures: deque[_InjectedFailure] = deque()
        self._entry_rejections: list[EntryRejection] = []
        self._known_room_types = self.config.known_room_type_codes
        self._known_rate_plans = self.config.known_rate_plans
        self._task_counter = 0
        self._feed: dict[str, BookingRevision] = {}
        self._acknowledged: list[str] = []
        self._held_ari = AriSnapshot()
        self.ari_pulls: list[DateRange] = []
        self.bookings: dict[str, BookingRevision] = {}
        self.booking_ids: dict[str, str] = {}
        self.booking_push_calls = 0
        self._push_script: deque[BookingPushOutcome] = deque()
        self._answers: dict[str, BookingConfirmation] = {}
        # Each booking as the channel holds it now: its latest revision.
        self._bookings: dict[str, BookingRevision] = {}

    @property
    def limits(self) -> ChannelLimits:
        return self.config.limits

    @property
    def requests(self) -> tuple[RecordedRequest, ...]:
        """Every push received, oldest first, including the refused ones."""
        return tuple(self._requests)

    def availability_state(self) -> dict[str, dict[date, int]]:
        """A copy of the availability the channel holds."""
        return {code: dict(days) for code, days in self._availability.items()}

    def rates_state(self) -> dict[RatePlanKey, dict[date, RateValues]]:
        """A copy of the rates and restrictions the channel holds."""
        return {key: dict(days) for key, days in self._rates.items()}

    @property
    def acknowledged(self) -> tuple[str, ...]:
        """Revision ids acknowledged so far, in order, repeats included."""
        return tuple(self._acknowledged)

    def publish(self, revision: BookingRevision) -> None:
        """Put a revision into the unacknowledged feed (the booking changes with it)."""
        self._feed.setdefault(revision.revision_id, revision)
        self.hold(revision)

    def hold(self, revision: BookingRevision) -> None:
        """Change the booking on the channel without telling innsync (no feed, no webhook)."""
        held = self._bookings.get(revision.channel_booking_id)
        if held is None or revision.received_at >= held.received_at:
            self._bookings[revision.channel_booking_id] = revision

    def fail_next(
        self, count: int, error: FailureKind = "unavailable", *, retry_after: float | None = None
    ) -> None:
        """Make the next ``count`` calls (of any kind) fail with ``error``."""
        if count < 1:
            raise ValueError("count must be at least 1")
        self._failures.append(_InjectedFailure(count, error, retry_after))

    def reject_entries(self, rejection: EntryRejection) -> None:
        """Refuse every pushed entry for which ``rejection`` returns a reason."""
        self._entry_rejections.append(rejection)

    def reject_unknown_codes(
        self, room_type_codes: frozenset[str], rate_plans: frozenset[RatePlanKey] = frozenset()
    ) -> None:
        """From now on refuse entries whose codes are not among those given."""
        self._known_room_types = room_type_codes
        self._known_rate_plans = rate_plans

    def clear_faults(self) -> None:
        """Forget every injected failure and rejection rule."""
        self._failures.clear()
        self._entry_rejections.clear()
        self._known_room_types = self.config.known_room_type_codes
        self._known_rate_plans = self.config.known_rate_plans

    async def test_connection(self) -> None:
        self._raise_injected_failure()

    async def push_availability(self, request: PushRequest[AvailabilityUpdate]) -> PushResult:
        return self._push(request)

    async def push_rates(self, request: PushRequest[RateUpdate]) -> PushResult:
        return self._push(request)

    async def read_availability(
        self, room_type_codes: Sequence[str], dates: DateRange
    ) -> dict[str, dict[date, int]]:
        self._raise_injected_failure()
        return {
            code: {
                day: units
                for day, units in self._availability.get(code, {}).items()
                if day in dates
            }
            for code in room_type_codes
        }

    async def read_rates(
        self, rate_plans: Sequence[RatePlanKey], dates: DateRange
    ) -> dict[RatePlanKey, dict[date, RateValues]]:
        self._raise_injected_failure()
        return {
            key: {day: values for day, values in self._rates.get(key, {}).items() if day in dates}
            for key in rate_plans
        }

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> None:
        """Trust the caller only when it presents the connection's shared secret."""
        expected = self.config.webhook_secret
        presented = next(
            (value for name, value in headers.items() if name.lower() == SECRET_HEADER), None
        )
        if expected is None or presented is None:
            raise BadSignatureError("the webhook carries no valid fake-channel secret")
        if not hmac.compare_digest(
            presented.encode("utf-8", "surrogateescape"),
            expected.get_secret_value().encode("utf-8", "surrogateescape"),
        ):
            raise BadSignatureError("the webhook's fake-channel secret does not match")

    async def parse_webhook(
        self, headers: Mapping[str, str], body: bytes
    ) -> Sequence[BookingRevision]:
        """The one revision the body carries (see the module docstring for its shape)."""
        try:
            return (revision_from_bytes(body),)
        except ValueError as exc:
            raise ChannelRejectedError(f"the webhook is not a fake-channel booking: {exc}") from exc

    async def pull_revisions(self, cursor: str | None) -> RevisionPage:
        """Unacknowledged revisions, oldest first; the cursor is the next page's number."""
        self._raise_injected_failure()
        page = int(cursor) if cursor else 1
        pending = sorted(self._feed.values(), key=lambda revision: revision.received_at)
        chunk = pending[(page - 1) * FEED_PAGE_SIZE : page * FEED_PAGE_SIZE]
        more = len(chunk) == FEED_PAGE_SIZE and len(pending) > page * FEED_PAGE_SIZE
        return RevisionPage(tuple(chunk), str(page + 1) if more else None, has_more=more)

    @property
    def pull_interval_seconds(self) -> float:
        return self.config.pull_interval_seconds

    async def read_booking(self, channel_booking_id: str) -> BookingRevision:
        """The booking's latest revision; unknown ids are refused, as a 404 would be."""
        self._raise_injected_failure()
        held = self._bookings.get(channel_booking_id)
        if held is None:
            raise ChannelRejectedError(f"the fake channel has no booking {channel_booking_id!r}")
        return held

    async def list_bookings(self, arrivals: DateRange) -> Sequence[BookingRevision]:
        """The bookings arriving in ``arrivals``, by booking id."""
        self._raise_injected_failure()
        return [
            held
            for _, held in sorted(self._bookings.items())
            if arrivals.start <= held.arrival < arrivals.end
        ]

    async def acknowledge_revision(self, revision_id: str) -> None:
        """Drop the revision from the feed; acknowledging twice is harmless, as on Channex."""
        self._raise_injected_failure()
        self._feed.pop(revision_id, None)
        self._acknowledged.append(revision_id)

    def hold_ari(self, snapshot: AriSnapshot) -> None:
        """Set the ARI the channel owns and ``pull_ari`` returns."""
        self._held_ari = snapshot

    async def pull_ari(self, window: DateRange) -> AriSnapshot:
        """The held ARI clipped to ``window`` (entries outside it left out)."""
        self._raise_injected_failure()
        self.ari_pulls.append(window)
        held = self._held_ari
        availability = tuple(
            dataclasses.replace(update, dates=part)
            for update in held.availability
            if (part := update.dates.intersection(window)) is not None
        )
        rates = tuple(
            dataclasses.replace(update, dates=part)
            for update in held.rates
            if (part := update.dates.intersection(window)) is not None
        )
        return AriSnapshot(availability, rates, held.catalog)

    def script_booking_pushes(self, *outcomes: BookingPushOutcome) -> None:
        """Answer the next booking pushes so, in order; unscripted pushes are stored."""
        self._push_script.extend(outcomes)

    def answer_booking(self, channel_booking_id: str, confirmation: BookingConfirmation) -> None:
        """The hotel's answer to a pushed booking, read by ``booking_status``."""
        self._answers[channel_booking_id] = confirmation

    async def push_reservation(self, revision: BookingRevision) -> str:
        """Store the booking under its reference; the same reference gets the same id back."""
        self._raise_injected_failure()
        self.booking_push_calls += 1
        outcome = self._push_script.popleft() if self._push_script else "store"
        if outcome == "reject":
            raise ChannelRejectedError("the hotel refused the booking (scripted)")
        if outcome == "unavailable":
            raise ChannelUnavailableError("the hotel's system is unavailable (scripted)")
        reference = revision.channel_booking_id
        self.bookings[reference] = revision
        booking_id = self.booking_ids.setdefault(
            reference, f"fake-booking-{len(self.booking_ids) + 1}"
        )
        if outcome == "lost":
            raise ChannelUnavailableError("the answer was lost after the booking was stored")
        return booking_id

    async def booking_status(self, channel_booking_id: str) -> BookingConfirmation:
        self._raise_injected_failure()
        if channel_booking_id not in self.booking_ids.values():
            return BookingConfirmation("rejected", f"no booking {channel_booking_id}")
        return self._answers.get(channel_booking_id, BookingConfirmation("pending"))

    def _push(
        self, request: PushRequest[AvailabilityUpdate] | PushRequest[RateUpdate]
    ) -> PushResult:
        now = self._clock()
        size = request_json_size(request.kind, request.updates)

        def record(outcome: Outcome, task_id: str | None = None) -> None:
            self._requests.append(
                RecordedRequest(
                    request.kind, now, len(request.updates), size, outcome, request, task_id
                )
            )

        try:
            self._raise_injected_failure()
        except ChannelAuthError:
            record("auth_failed")
            raise
        except ChannelThrottledError:
            record("rate_limited")
            raise
        except ChannelUnavailableError:
            record("unavailable")
            raise
        retry_after = self._spend_budget(request.kind, now)
        if retry_after is not None:
            record("rate_limited")
            raise ChannelThrottledError("too many requests", retry_after=retry_after)
        too_large = self._oversize_reason(len(request.updates), size)
        if too_large is not None:
            record("rejected")
            raise ChannelRejectedError(
                too_large, entry_reasons=dict.fromkeys(range(len(request.updates)), too_large)
            )
        results: list[EntryResult] = []
        updates: tuple[AvailabilityUpdate | RateUpdate, ...] = request.updates
        for index, update in enumerate(updates):
            reason = self._entry_problem(update)
            if reason is None:
                self._apply(update)
            results.append(EntryResult(index, accepted=reason is None, reason=reason))
        self._task_counter += 1
        task_id = f"fake-task-{self._task_counter}"
        warnings = tuple(f"entry {r.index}: {r.reason}" for r in results if not r.accepted)
        result = PushResult(tuple(results), task_id, warnings)
        record("accepted" if result.is_fully_accepted else "partial", task_id)
        return result

    def _raise_injected_failure(self) -> None:
        if not self._failures:
            return
        failure = self._failures[0]
        failure.remaining -= 1
        if failure.remaining == 0:
            self._failures.popleft()
        if failure.kind == "auth":
            raise ChannelAuthError("credentials refused by the fake channel")
        if failure.kind == "throttled":
            raise ChannelThrottledError(
                "fake channel rate limit (injected)", retry_after=failure.retry_after
            )
        raise ChannelUnavailableError(
            "fake channel unavailable (injected)", retry_after=failure.retry_after
        )

    def _spend_budget(self, kind: PushKind, now: float) -> float | None:
        """Count one request against its budget; return the retry-after when it is spent."""
        limits = self.limits
        # A sliding window: a request at `now` competes with those made after `now - window`.
        grants = self._grants.setdefault(limits.budget_for(kind), deque())
        while grants and grants[0] <= now - limits.window_seconds:
            grants.popleft()
        if len(grants) >= limits.requests_per_window:
            return grants[0] + limits.window_seconds - now
        grants.append(now)
        return None

    def _oversize_reason(self, entry_count: int, size: int) -> str | None:
        limits = self.limits
        if limits.max_request_bytes is not None and size > limits.max_request_bytes:
            return f"request of {size} bytes exceeds {limits.max_request_bytes}"
        if (
            limits.max_entries_per_request is not None
            and entry_count > limits.max_entries_per_request
        ):
            return f"request of {entry_count} entries exceeds {limits.max_entries_per_request}"
        return None

    def _entry_problem(self, update: AvailabilityUpdate | RateUpdate) -> str | None:
        limits = self.limits
        if (
            self._known_room_types is not None
            and update.room_type_code not in self._known_room_types
        ):
            return f"unknown room type {update.room_type_code!r}"
        if (
            isinstance(update, RateUpdate)
            and self._known_rate_plans is not None
            and update.rate_plan not in self._known_rate_plans
        ):
            return f"unknown rate plan {update.rate_plan_code!r}"
        if update.weekdays is not None and not limits.understands_weekdays:
            return "weekday filters are not supported"
        if update.dates.nights > 1 and not limits.understands_ranges:
            return "date ranges are not supported"
        if (
            limits.max_days_per_entry is not None
            and update.dates.nights > limits.max_days_per_entry
        ):
            return f"range longer than {limits.max_days_per_entry} days"
        for rejection in self._entry_rejections:
            reason = rejection(update)
            if reason is not None:
                return reason
        return None

    def _apply(self, update: AvailabilityUpdate | RateUpdate) -> None:
        if isinstance(update, AvailabilityUpdate):
            days = self._availability.setdefault(update.room_type_code, {})
            for day in update.covered_dates():
                days[day] = update.availability
            return
        plan = self._rates.setdefault(update.rate_plan, {})
        for day in update.covered_dates():
            held = plan.get(day)
            if held is not None and self.limits.accepts_partial_rates:
                plan[day] = held.updated_with(update.values)
            else:
                # A channel without partial updates resets every field the entry leaves out.
                plan[day] = update.values

"""One pass of outbound sync for one connection: plan the difference, send it within the budget,
record what the channel accepted. Marks are cleared only when everything planned was answered."""

from __future__ import annotations

import dataclasses
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import update as update_rows
from sqlalchemy.orm import Session, sessionmaker

from innsync import containment
from innsync.channels.contract import (
    ChannelAdapter,
    PushesAriTogether,
    PushesAvailability,
    PushesRates,
)
from innsync.channels.encoding import request_json_size
from innsync.channels.errors import (
    ChannelAuthError,
    ChannelError,
    ChannelRejectedError,
    ChannelThrottledError,
    ChannelTimedOutError,
    ChannelUnavailableError,
    MappingMissingError,
)
from innsync.channels.types import (
    AvailabilityUpdate,
    EntryResult,
    PushRequest,
    PushResult,
    RateUpdate,
)
from innsync.connections.models import Connection, ConnectionState
from innsync.db.engine import reading, transaction
from innsync.events import kinds
from innsync.events.service import emit
from innsync.inbox.waking import wake_waiting
from innsync.outbox.models import AVAILABILITY, RATES
from innsync.properties.models import Property
from innsync.stay_dates import DateRange, merge_ranges
from innsync.sync import metrics
from innsync.sync.desired import (
    Mappings,
    channel_today,
    desired_availability,
    desired_rates,
    from_day,
    load_mappings,
)
from innsync.sync.lifts import held_availability, lifted_stop_sells
from innsync.sync.planner import apply_updates, batch_requests, plan_availability, plan_rates
from innsync.sync.shadow import log_shadow
from innsync.sync.state import (
    DirtySet,
    acked_availability,
    acked_rates,
    clear_marks,
    forget_sent,
    log_request,
    read_marks,
    record_dead_letters,
    store_availability,
    store_rates,
)

logger = logging.getLogger(__name__)

# Consecutive retryable failures after which a connection's breaker opens.
BREAKER_THRESHOLD = 5
# An open breaker pauses the connection this long, then lets one request through (half-open):
# an answer closes it, a failure opens it again for twice the last pause, up to the cap. A
# channel back after a short outage is served again within seconds, while one that stays down
# for hours is asked about once every five minutes per connection.
BREAKER_FIRST_PAUSE = timedelta(seconds=5)
BREAKER_MAX_PAUSE = timedelta(minutes=5)

Acquire = Callable[[str], Awaitable[float | None]]
"""Spend one request of a budget ("availability", "rates" or "ari"): the grant's
``time.perf_counter()``, from which the round trip is measured; None: not now."""
HasRoom = Callable[[str], bool]
"""Whether a budget could grant a request now, without spending it."""


class Fence(Protocol):
    """The worker's hold on the connection's bucket (``sync.leases.LeaseFence``)."""

    def holds(self, session: Session) -> bool:
        """In a recording transaction: the bucket is still ours (and stays so until commit)."""
        ...

    def revoke(self, session: Session) -> None:
        """We lost the bucket after sending: void the new holder's in-flight answers too."""
        ...


@dataclass(slots=True)
class PassResult:
    """What one pass over a connection did, and why it stopped early if it did."""

    requests: int = 0
    round_trips: list[float] = dataclasses.field(default_factory=list)
    """Seconds each call took, answered or failed: they size the limiter's margin."""
    entries_accepted: int = 0
    entries_rejected: int = 0
    waiting_for_budget: bool = False
    retry_after: float | None = None
    failed: bool = False
    lease_lost: bool = False

    @property
    def finished(self) -> bool:
        return not (self.waiting_for_budget or self.failed or self.lease_lost)


async def push_connection(
    sessions: sessionmaker[Session],
    connection_id: uuid.UUID,
    adapter: ChannelAdapter,
    acquire: Acquire,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    has_room: HasRoom = lambda budget: True,
    fence: Fence | None = None,
) -> PassResult:
    """Push availability, then rates and restrictions, each within its own budget.

    A kind whose budget is spent waits alone: the other kind is still pushed (Channex counts
    availability and restrictions calls apart). Availability, the overbooking-critical value,
    goes first, and is looked at again before every rates request, so a booking that lands
    while a long run of rates is being sent does not wait behind it. An adapter that
    ``PushesAriTogether`` gets both kinds in one call when they share a budget. Without a
    ``fence`` (tests, a single process) what is answered is recorded unchecked.
    """
    result = PassResult()
    pusher = _KindPusher(sessions, connection_id, adapter, acquire, has_room, result, now, fence)
    # Paired first where the adapter can take both kinds at once (one budget); then each kind
    # alone: whatever was left unpaired, or marked while the pair was on the wire.
    if await pusher.push_together() and not result.waiting_for_budget:
        for kind in (AVAILABILITY, RATES):
            if not await pusher.push(kind):
                break
    if result.finished and result.requests:
        _record_success(sessions, connection_id)
    return result


@dataclass(slots=True)
class _Plan:
    """One kind's planned requests, with the marks they answer."""

    kind: str
    budget: str
    mappings: Mappings
    dirty: DirtySet
    requests: list[PushRequest[Any]]
    lifts: list[dict[str, list[DateRange]]] = dataclasses.field(default_factory=list)
    """Per request, the stop sells it lifts on a channel that then resets availability
    (``ChannelLimits.lifting_stop_sell_sets_availability``); empty when none can."""
    shadow: bool = False
    """The connection is in shadow mode: the requests are logged, never sent."""


@dataclass(slots=True)
class _KindPusher:
    """Pushes one connection's kinds within their budgets; availability may cut in on rates."""

    sessions: sessionmaker[Session]
    connection_id: uuid.UUID
    adapter: ChannelAdapter
    acquire: Acquire
    has_room: HasRoom
    result: PassResult
    now: Callable[[], datetime]
    fence: Fence | None = None

    async def push(self, kind: str) -> bool:
        """Push one kind; False only when the pass must stop (a failure, a lost lease)."""
        plan = self._plan(kind)
        return plan is None or await self._send_plan(plan)

    async def push_together(self) -> bool:
        """Send availability and rates in shared adapter calls, when the adapter can.

        Only for an adapter with ``push_ari`` whose kinds spend one budget (one grant then
        covers the call). What is left unpaired, and everything when the capability is absent,
        goes through :meth:`push` as usual. False only when the pass must stop.
        """
        limits = self.adapter.limits
        budget = limits.budget_for("availability")
        if not isinstance(self.adapter, PushesAriTogether) or budget != limits.budget_for("rates"):
            return True
        availability, rates = self._plan(AVAILABILITY), self._plan(RATES)
        if availability is None or rates is None or any(rates.lifts) or availability.shadow:
            # Nothing to pair, or lifts that need the availability sent first: planned again
            # by push() (planning reads only, so that is safe).
            return True
        while availability.requests and rates.requests:
            granted = await self.acquire(budget)
            if granted is None:
                self.result.waiting_for_budget = True
                return True
            pair = (availability.requests.pop(0), rates.requests.pop(0))
            if not await _send_together(self, self.adapter, availability, rates, pair, granted):
                return False
        return await self._send_plan(availability) and await self._send_plan(rates)

    def _plan(self, kind: str) -> _Plan | None:
        """The requests that bring ``kind`` up to date; None when there is nothing to do now."""
        limits = self.adapter.limits
        budget = limits.budget_for("availability" if kind == AVAILABILITY else "rates")
        if not self.has_room(budget):
            # Not even planned: the budget's window will reopen, and planning is not free.
            self.result.waiting_for_budget = True
            return None
        with reading(self.sessions) as session:
            connection = session.get_one(Connection, self.connection_id)
            mappings = load_mappings(session, connection)
            dirty = read_marks(session, self.connection_id, kind)
            if not dirty.mark_ids:
                return None
            today = channel_today(
                session.get_one(Property, connection.property_id), self.now(), limits
            )
            # Dates before the property's today are never sent (channels refuse the past), so
            # they are not planned either: their marks are simply cleared.
            sendable = from_day(dirty.all_ranges, today)
            updates: Sequence[AvailabilityUpdate | RateUpdate]
            lifts: list[dict[str, list[DateRange]]] = []
            if kind == AVAILABILITY:
                acked_a = acked_availability(session, self.connection_id, mappings, dirty)
                desired_a = desired_availability(session, mappings, dirty.ranges)
                updates = plan_availability(desired_a, acked_a, sendable, limits)
                requests: list[Any] = batch_requests(updates, limits, "availability")
            else:
                acked_r = acked_rates(session, self.connection_id, mappings, dirty)
                desired_r = desired_rates(session, mappings, dirty.ranges)
                updates = plan_rates(desired_r, acked_r, sendable, limits)
                requests = batch_requests(updates, limits, "rates")
                if limits.lifting_stop_sell_sets_availability:
                    lifts = [lifted_stop_sells(request.updates, acked_r) for request in requests]
            requests = [dataclasses.replace(request, today=today) for request in requests]
        return _Plan(kind, budget, mappings, dirty, requests, lifts, connection.shadow_mode)

    async def _send_plan(self, plan: _Plan) -> bool:
        """Send what is left of ``plan``, then clear its marks; False when the pass must stop."""
        for position, request in enumerate(plan.requests):
            if plan.shadow:
                # Shadow mode: logged, not sent; no budget spent, nothing acknowledged.
                with transaction(self.sessions) as session:
                    log_shadow(session, self.connection_id, request)
                continue
            if plan.kind == RATES and not await self.push(AVAILABILITY):
                return False
            if plan.lifts and plan.lifts[position]:
                # Read after the availability cut-in above, so the units sent with the lift
                # are the ones the channel was just given.
                with reading(self.sessions) as session:
                    held = held_availability(
                        session, self.connection_id, plan.mappings, plan.lifts[position]
                    )
                request = dataclasses.replace(request, held_availability=held)
            granted = await self.acquire(plan.budget)
            if granted is None:
                self.result.waiting_for_budget = True
                return True
            if not await _send(
                self.sessions,
                self.connection_id,
                self.adapter,
                plan.mappings,
                plan.dirty,
                request,
                self.result,
                self.now,
                self.fence,
                granted,
            ):
                return False
        with transaction(self.sessions) as session:
            if self.fence is not None and not self.fence.holds(session):
                self.result.lease_lost = True  # the new holder serves these marks
                return False
            clear_marks(session, plan.dirty.mark_ids)
        if plan.dirty.oldest is not None and not plan.shadow:  # shadow: nothing was accepted
            waited = max((self.now() - plan.dirty.oldest).total_seconds(), 0.0)
            metrics.LATENCY.labels(self.adapter.name).observe(waited)
        return True


async def _send(
    sessions: sessionmaker[Session],
    connection_id: uuid.UUID,
    adapter: ChannelAdapter,
    mappings: Mappings,
    dirty: DirtySet,
    request: PushRequest[Any],
    result: PassResult,
    now: Callable[[], datetime],
    fence: Fence | None,
    started: float,
) -> bool:
    """Send one request granted at ``started`` (``time.perf_counter()``) and record the answer;
    False when the pass must stop."""
    size = request_json_size(request.kind, request.updates)
    result.requests += 1
    metrics.REQUESTS.labels(adapter.name, request.kind).inc()
    try:
        try:
            answer = await _call(adapter, request)
        finally:
            result.round_trips.append(time.perf_counter() - started)
    except ChannelRejectedError as exc:
        # The whole request was refused (too big, malformed): every entry goes to dead letters.
        reasons = exc.entry_reasons or dict.fromkeys(range(len(request.updates)), str(exc))
        answer = PushResult(
            tuple(
                _refused(index, reasons.get(index, str(exc)))
                for index in range(len(request.updates))
            )
        )
    except (ChannelUnavailableError, ChannelAuthError, MappingMissingError) as exc:
        _record_failure(
            sessions,
            connection_id,
            adapter,
            (request,),
            (mappings,),
            (size,),
            started,
            exc,
            result,
            now,
        )
        return False
    return _record_answer(
        sessions,
        connection_id,
        adapter,
        mappings,
        request,
        answer,
        size,
        started,
        result,
        fence,
        now,
    )


async def _send_together(
    pusher: _KindPusher,
    adapter: PushesAriTogether,
    availability: _Plan,
    rates: _Plan,
    pair: tuple[PushRequest[Any], PushRequest[Any]],
    started: float,
) -> bool:
    """One ``push_ari`` call granted at ``started``; each side's answer is recorded as
    :func:`_send` records it."""
    sizes = [request_json_size(request.kind, request.updates) for request in pair]
    pusher.result.requests += 1
    metrics.REQUESTS.labels(pusher.adapter.name, "ari").inc()
    try:
        try:
            answers = await adapter.push_ari(*pair)
        finally:
            pusher.result.round_trips.append(time.perf_counter() - started)
    except ChannelRejectedError as exc:
        # Refused whole: which side an entry index means is not known, so all go with the reason.
        answers = (_all_refused(pair[0], str(exc)), _all_refused(pair[1], str(exc)))
    except (ChannelUnavailableError, ChannelAuthError, MappingMissingError) as exc:
        _record_failure(
            pusher.sessions,
            pusher.connection_id,
            pusher.adapter,
            pair,
            (availability.mappings, rates.mappings),
            sizes,
            started,
            exc,
            pusher.result,
            pusher.now,
        )
        return False
    for plan, request, answer, size in zip(
        (availability, rates), pair, answers, sizes, strict=True
    ):
        if not _record_answer(
            pusher.sessions,
            pusher.connection_id,
            pusher.adapter,
            plan.mappings,
            request,
            answer,
            size,
            started,
            pusher.result,
            pusher.fence,
            pusher.now,
        ):
            return False
    return True


def _all_refused(request: PushRequest[Any], reason: str) -> PushResult:
    return PushResult(tuple(_refused(index, reason) for index in range(len(request.updates))))


async def _call(adapter: ChannelAdapter, request: PushRequest[Any]) -> PushResult:
    if request.kind == "availability" and isinstance(adapter, PushesAvailability):
        return await adapter.push_availability(request)
    if request.kind == "rates" and isinstance(adapter, PushesRates):
        return await adapter.push_rates(request)
    raise MappingMissingError(f"the {adapter.name} channel does not take {request.kind} pushes")


def _refused(index: int, reason: str) -> EntryResult:
    return EntryResult(index=index, accepted=False, reason=reason)


def _record_answer(
    sessions: sessionmaker[Session],
    connection_id: uuid.UUID,
    adapter: ChannelAdapter,
    mappings: Mappings,
    request: PushRequest[Any],
    answer: PushResult,
    size: int,
    started: float,
    result: PassResult,
    fence: Fence | None,
    now: Callable[[], datetime],
) -> bool:
    """Record the answer; False (recording nothing) when the bucket is no longer ours."""
    # An entry the adapter did not send (whole) is neither accepted nor refused: the channel
    # does not hold its values, so they are never recorded as acknowledged.
    accepted_indexes = set(answer.accepted_indexes) - set(answer.unsent_indexes)
    accepted = [update for index, update in enumerate(request.updates) if index in accepted_indexes]
    rejected = [
        (request.updates[index], reason)
        for index, reason in answer.rejected.items()
        if index < len(request.updates)
    ]
    outcome = "accepted" if not rejected else ("partial" if accepted else "rejected")
    with transaction(sessions) as session:
        if fence is not None and not fence.holds(session):
            # Another worker took the bucket while this request was on the wire and may have
            # sent newer values, before or after ours landed: nothing here is known to be on
            # the channel. Send innsync's values again, under the new holder.
            fence.revoke(session)
            forget_sent(session, connection_id, request.kind, mappings, request.updates)
            result.lease_lost = True
            logger.warning(
                "answer after a lost bucket lease not recorded",
                extra={"connection_id": str(connection_id), "kind": request.kind},
            )
            return False
        result.entries_accepted += len(accepted)
        result.entries_rejected += len(rejected)
        # The channel answered: a half-open breaker's probe succeeded, and the failures in a
        # row end here (not at the end of the pass, which may stop for the budget first).
        # Inbound work backed off by the channel's failures need not sleep any longer.
        _close_breaker(session, connection_id)
        wake_waiting(session, connection_id, now())
        if request.kind == "availability":
            changed = apply_updates({}, accepted)
            store_availability(session, connection_id, mappings, changed)
        else:
            current = acked_rates(session, connection_id, mappings, _covering(mappings, accepted))
            merged = apply_updates(
                current,
                accepted,
                partial_rates=adapter.limits.accepts_partial_rates,
                partial_occupancies=adapter.limits.accepts_partial_occupancy_prices,
            )
            covered = {
                key: {day: merged[key][day] for day in days}
                for key, days in _covered_by_key(accepted).items()
            }
            store_rates(session, connection_id, mappings, covered)
        record_dead_letters(session, connection_id, request.kind, mappings, rejected)
        log_request(
            session,
            connection_id,
            request.kind,
            request.updates,
            size,
            outcome,
            _elapsed_ms(started),
            _detail(answer, rejected),
            answer.task_id,
        )
    metrics.PUSHES.labels(adapter.name, request.kind, outcome).inc()
    metrics.ENTRIES.labels(adapter.name, "accepted").inc(len(accepted))
    metrics.ENTRIES.labels(adapter.name, "rejected").inc(len(rejected))
    return True


def _detail(answer: PushResult, rejected: Sequence[tuple[Any, str]]) -> str:
    """Refusals first, then the channel's warnings on what it did take (values it changed or
    ignored); adapters also note each refusal as a warning ("entry N: reason"), left out."""
    echoes = {f"entry {index}: {reason}" for index, reason in answer.rejected.items()}
    warnings = [warning for warning in answer.warnings if warning not in echoes]
    return "; ".join([reason for _, reason in rejected[:5]] + warnings[:5])


def _covered_by_key(updates: Sequence[RateUpdate]) -> dict[Any, list[Any]]:
    covered: dict[Any, list[Any]] = {}
    for update in updates:
        covered.setdefault(update.rate_plan, []).extend(update.covered_dates())
    return covered


def _covering(mappings: Mappings, updates: Sequence[RateUpdate]) -> DirtySet:
    """A DirtySet spanning the accepted updates, to read the acked values they modify."""
    dirty = DirtySet()
    for update in updates:
        plan_id = mappings.rate_plan_id(update.rate_plan)
        if plan_id is not None:
            dirty.ranges.setdefault(plan_id, []).append(update.dates)
    for plan_id, spans in dirty.ranges.items():
        dirty.ranges[plan_id] = merge_ranges(spans)
    return dirty


def _record_failure(
    sessions: sessionmaker[Session],
    connection_id: uuid.UUID,
    adapter: ChannelAdapter,
    requests: Sequence[PushRequest[Any]],
    mappings: Sequence[Mappings],
    sizes: Sequence[int],
    started: float,
    error: ChannelError,
    result: PassResult,
    now: Callable[[], datetime],
) -> None:
    result.failed = True
    outcome = failure_outcome(error)
    metrics.ERRORS.labels(adapter.name, outcome).inc()
    for request in requests:
        metrics.PUSHES.labels(adapter.name, request.kind, outcome).inc()
    if isinstance(error, ChannelUnavailableError):
        result.retry_after = error.retry_after
    if isinstance(error, ChannelTimedOutError) and error.retry_after and result.round_trips:
        # The channel counts the call against its limit when it lands, which may be as late
        # as this: the limiter's margin (sized from round trips) must cover it.
        result.round_trips[-1] += error.retry_after
    with transaction(sessions) as session:
        # Each request is logged; the connection's failure is counted once (one call failed).
        for request, size in zip(requests, sizes, strict=True):
            log_request(
                session,
                connection_id,
                request.kind,
                request.updates,
                size,
                outcome,
                _elapsed_ms(started),
                str(error),
            )
        connection = session.get_one(Connection, connection_id)
        if isinstance(error, ChannelThrottledError):
            # A healthy channel asking us to wait (it took nothing): the retry_after backoff
            # is enough.
            return
        if isinstance(error, ChannelUnavailableError):
            # A time-out or a 5xx: the channel may have taken the call all the same, so what
            # it holds over these dates is unknown until innsync's values are sent again.
            for request, request_mappings in zip(requests, mappings, strict=True):
                forget_sent(session, connection_id, request.kind, request_mappings, request.updates)
            _count_failure(session, connection, now())
        else:
            _needs_attention(session, connection, f"{outcome}: {error}")


# A failed push's label, by the first class the error is an instance of (throttling is a kind
# of unavailability, so it comes first); a subclass an adapter adds is labelled as its parent.
_OUTCOMES: tuple[tuple[type[ChannelError], str], ...] = (
    (ChannelThrottledError, "throttled"),
    (ChannelUnavailableError, "unavailable"),
    (ChannelAuthError, "auth"),
    (MappingMissingError, "mapping_missing"),
)


def failure_outcome(error: ChannelError) -> str:
    """How a failed push is labelled in the sync log and the metrics."""
    return next((label for kind, label in _OUTCOMES if isinstance(error, kind)), "error")


def breaker_pause(consecutive_failures: int) -> timedelta:
    """How long the breaker stays open after this many failures in a row (the last one being
    the threshold's, or a failed probe's)."""
    failed_probes = max(consecutive_failures - BREAKER_THRESHOLD, 0)
    ratio = BREAKER_MAX_PAUSE / BREAKER_FIRST_PAUSE
    if failed_probes >= int(ratio).bit_length():  # the cap is reached: no huge power of two
        return BREAKER_MAX_PAUSE
    pause: timedelta = BREAKER_FIRST_PAUSE * (1 << failed_probes)
    return min(pause, BREAKER_MAX_PAUSE)


def _count_failure(session: Session, connection: Connection, now: datetime) -> None:
    connection.consecutive_failures += 1
    if connection.consecutive_failures >= BREAKER_THRESHOLD:
        connection.breaker_open_until = now + breaker_pause(connection.consecutive_failures)
    if connection.consecutive_failures == BREAKER_THRESHOLD:
        emit(
            session,
            connection.tenant_id,
            kinds.SYNC_FAILING,
            {"connection_id": str(connection.id), "failures": connection.consecutive_failures},
            property_id=connection.property_id,
            subject_id=str(connection.id),
        )


def _needs_attention(session: Session, connection: Connection, reason: str) -> None:
    """The channel refused our credentials or setup: stop pushing and tell the PMS."""
    if connection.state == ConnectionState.NEEDS_ATTENTION:
        return
    containment.needs_attention(session, connection, reason)
    logger.warning("connection needs attention", extra={"connection_id": str(connection.id)})


def _close_breaker(session: Session, connection_id: uuid.UUID) -> None:
    """No failures in a row any more; an update that touches nothing while all is well."""
    session.execute(
        update_rows(Connection)
        .where(
            Connection.id == connection_id,
            (Connection.consecutive_failures > 0) | Connection.breaker_open_until.is_not(None),
        )
        .values(consecutive_failures=0, breaker_open_until=None)
    )


def _record_success(sessions: sessionmaker[Session], connection_id: uuid.UUID) -> None:
    """Close the breaker and make a pending connection connected. Looked at first without the
    writer lock: on nearly every pass there is nothing to change, and on SQLite a write
    transaction per pass queues behind the API's writes."""
    with reading(sessions) as session:
        connection = session.get_one(Connection, connection_id)
        if not _needs_success_recorded(connection):
            return
    with transaction(sessions) as session:
        connection = session.get_one(Connection, connection_id)
        connection.consecutive_failures = 0
        connection.breaker_open_until = None
        if connection.state == ConnectionState.PENDING:
            connection.state = ConnectionState.CONNECTED


def _needs_success_recorded(connection: Connection) -> bool:
    return bool(
        connection.consecutive_failures
        or connection.breaker_open_until is not None
        or connection.state == ConnectionState.PENDING
    )


def _elapsed_ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)

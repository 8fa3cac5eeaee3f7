"""The simulator's timed events: BookingHint pushes with their retries, and the fallback sweep.

§3.3: hints go out on a schedule (every 1-2 minutes: ``hint_interval_seconds``) naming the
bookings whose status changed since; a failed push is retried 3 times 15 s apart, then the list
goes to the channel manager by e-mail. Separately, an action nobody retrieved within
``fallback_seconds`` reaches the property by e-mail/fax [INFERRED].
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import httpx

from innsync.simulators.agoda.documents import XML, hint_body
from innsync.simulators.agoda.state import HintDelivery, PendingHint, SimulatorState


@dataclass(slots=True)
class Pump:
    """Runs what is due: the hint schedule, hint retries and the fallback sweep."""

    state: SimulatorState
    ticks: int = field(default=0)

    async def tick(self) -> dict[str, int]:
        self.ticks += 1
        delivered = failed = 0
        state = self.state
        if state.config.hint_url:
            self._schedule()
            now = state.now()
            due = [hint for hint in state.pending_hints if hint.due_at <= now]
            for hint in due:
                if await self._deliver(hint):
                    delivered += 1
                else:
                    failed += 1
        return {
            "hints_delivered": delivered,
            "hints_failed": failed,
            "fell_back_to_email": state.sweep_fallbacks(),
        }

    def _schedule(self) -> None:
        """Gather the actions not hinted yet into one hint per property, on the schedule."""
        state = self.state
        now = state.now()
        fresh = [action for action in state.actions if action.hinted == "due"]
        if not fresh:
            return
        if state.next_hint_batch_at is None:
            # The schedule comes round an interval after the first change it carries.
            earliest = min(action.at for action in fresh)
            interval = timedelta(seconds=state.config.hint_interval_seconds)
            state.next_hint_batch_at = earliest + interval
        if now < state.next_hint_batch_at:
            return
        state.next_hint_batch_at = None
        by_property: dict[str, list[str]] = {}
        for action in fresh:
            action.hinted = "sending"
            booking = state.bookings[action.booking_id]
            by_property.setdefault(booking.property_id, []).append(booking.booking_id)
        for property_id, ids in by_property.items():
            actions = [a for a in fresh if state.bookings[a.booking_id].property_id == property_id]
            unique = tuple(dict.fromkeys(ids))
            state.pending_hints.append(PendingHint(property_id, unique, actions, 0, now))

    async def _deliver(self, hint: PendingHint) -> bool:
        state = self.state
        config = state.config
        # The latest state of each booking (§3.3: only the latest status within the schedule).
        body = hint_body(state, hint.property_id, [state.bookings[i] for i in hint.booking_ids])
        headers = {"content-type": XML}
        if config.hint_secret:
            headers[config.hint_secret_header] = config.hint_secret
        hint.attempts += 1
        status: int | None = None
        error = None
        try:
            async with httpx.AsyncClient(transport=config.hint_transport, timeout=10) as client:
                response = await client.post(config.hint_url or "", content=body, headers=headers)
            status = response.status_code
        except httpx.HTTPError as exc:
            error = type(exc).__name__
        state.hint_deliveries.append(
            HintDelivery(hint.booking_ids, hint.attempts, status, state.now(), error)
        )
        if status is not None and 200 <= status < 300:
            state.counters.hints_delivered += 1
            for action in hint.actions:
                action.hinted = "delivered"
            state.pending_hints.remove(hint)
            return True
        state.counters.hints_failed += 1
        if hint.attempts > config.hint_retries:
            state.counters.hint_lists_emailed += 1
            for action in hint.actions:
                action.hinted = "emailed"
            state.pending_hints.remove(hint)
        else:
            hint.due_at = state.now() + timedelta(seconds=config.hint_retry_seconds)
        return False

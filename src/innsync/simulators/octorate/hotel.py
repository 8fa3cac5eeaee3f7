"""The hotel-side actor: the owner confirms or rejects each pushed reservation after a delay.

Issue #16 asks that a marketplace know whether the hotel really got a booking, so a push is
held in ``pending_status`` until the hotel decides, ``decision_delay_seconds`` after it
arrived; a seeded draw against ``rejection_ratio`` picks the outcome. Both can change at run
time (``POST /_sim/hotel``); the pump (``POST /_sim/tick``) carries out what is due, so tests
control time. Each decision is visible on reservation read and as a webhook.
"""

from __future__ import annotations

from datetime import timedelta

from innsync.simulators.octorate.state import Reservation, SimulatorState
from innsync.simulators.octorate.webhooks import WebhookDispatcher
from innsync.simulators.octorate.wire import zoned


def await_decision(state: SimulatorState, reservation: Reservation) -> None:
    """Put a pushed (or modified) reservation before the hotel."""
    reservation["status"] = state.config.pending_status
    due = state.now() + timedelta(seconds=state.decision_delay_seconds)
    state.decisions[int(reservation["id"])] = due


def decide(
    state: SimulatorState, dispatcher: WebhookDispatcher, reservation_id: int, confirm: bool
) -> Reservation:
    """The hotel's answer on one reservation, announced by webhook."""
    config = state.config
    reservation = state.reservations[reservation_id]
    state.decisions.pop(reservation_id, None)
    reservation["status"] = config.confirmed_status if confirm else config.rejected_status
    reservation["updateTime"] = zoned(state.now())
    state.counters["confirmed" if confirm else "rejected"] += 1
    event = "RESERVATION_CONFIRMED" if confirm else config.rejected_event
    dispatcher.reservation_event(event, reservation)
    return reservation


def decide_due(state: SimulatorState, dispatcher: WebhookDispatcher) -> int:
    """Every decision that is due, in reservation order; how many were made."""
    now = state.now()
    due = sorted(rid for rid, at in state.decisions.items() if at <= now)
    for reservation_id in due:
        # Draw for every decision, whatever the ratio, so a seed replays the same outcomes.
        confirm = state.hotel_rng.random() >= state.rejection_ratio
        decide(state, dispatcher, reservation_id, confirm)
    return len(due)


class Pump:
    """What ``/_sim/tick`` and the background loop run: decisions, then webhook deliveries."""

    def __init__(self, state: SimulatorState, dispatcher: WebhookDispatcher) -> None:
        self.state = state
        self.dispatcher = dispatcher

    async def tick(self) -> dict[str, int]:
        decided = decide_due(self.state, self.dispatcher)
        return {"decided": decided, "attempted": await self.dispatcher.deliver_due()}

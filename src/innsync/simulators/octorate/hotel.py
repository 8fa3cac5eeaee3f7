"""The hotel-side actor: the owner confirms or rejects each pushed reservation after a delay.

Issue #16 asks that a marketplace know whether the hotel really got a booking, so a push is
held in ``pending_status`` until the hotel decides, ``decision_delay_seconds`` after it
arrived; a seeded draw against ``rejection_ratio`` picks the outcome. Both can change at run
time (``POST /_sim/hotel``); the pump (``POST /_sim/tick``) carries out what is due, so tests
control time. Each decision is visible on reservation read and as a webhook.
"""

from __future__ import annotations

from datetime import date, timedelta

from innsync.simulators.octorate.calendar import apply_values
from innsync.simulators.octorate.state import Reservation, SimulatorState
from innsync.simulators.octorate.webhooks import WebhookDispatcher
from innsync.simulators.octorate.wire import parse_stay_day, zoned


def _nights(reservation: Reservation) -> list[date]:
    first = parse_stay_day(reservation["checkin"], "checkin")
    last = parse_stay_day(reservation["checkout"], "checkout")
    return [first + timedelta(days=n) for n in range((last - first).days)]


def _is_sellable(state: SimulatorState, reservation: Reservation) -> bool:
    """Whether every night of the stay has a unit left and no stop sell on the booked product."""
    product = state.products[int(reservation["product"])]
    room = state.products[product.room.id]
    for night in _nights(reservation):
        if state.day_values(room, night)["availability"] <= 0:
            return False
        if state.day_values(product, night)["stopSells"]:
            return False
    return True


def _move_units(
    state: SimulatorState, dispatcher: WebhookDispatcher, room_id: int, nights: list[date], by: int
) -> None:
    """Take (``by`` -1) or give back (+1) one unit of the room, and of each of its rates, on
    ``nights``; the hotel's calendar changed, so the calendar webhook tells the OTA."""
    room = state.products[room_id].room
    changes: dict[int, set[date]] = {}
    for product_id in (room.id, *(rate.id for rate in room.rates)):
        product = state.products[product_id]
        for night in nights:
            units = max(0, int(state.day_values(product, night)["availability"]) + by)
            changes.setdefault(product_id, set()).update(
                apply_values(state, product_id, night, night, {"availability": units})
            )
    dispatcher.calendar_changed(changes)


def release_units(
    state: SimulatorState, dispatcher: WebhookDispatcher, reservation: Reservation
) -> None:
    """A confirmed reservation was cancelled or changed: its units are sellable again."""
    held = state.held_units.pop(int(reservation["id"]), None)
    if held is not None:
        _move_units(state, dispatcher, held[0], held[1], +1)


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
    if confirm and config.hotel_rejects_unsellable and not _is_sellable(state, reservation):
        confirm = False
    if confirm:
        room_id = state.products[int(reservation["product"])].room.id
        nights = _nights(reservation)
        state.held_units[reservation_id] = (room_id, nights)
        _move_units(state, dispatcher, room_id, nights, -1)
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

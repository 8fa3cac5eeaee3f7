"""Start-up configuration of the Channex simulator: limits, unclear vendor points, injected time."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

import httpx

from innsync.simulators.kit.faults import FaultSettings
from innsync.simulators.kit.requests import DEFAULT_LOGGED_BODY_BYTES

Clock = Callable[[], datetime]
Sleep = Callable[[float], Awaitable[None]]


def utc_now() -> datetime:
    """The wall clock, timezone-aware UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    """Everything the simulator is started with; the fault settings can change at run time."""

    # §1.2: keys are created in the user profile; every simulated key covers every property.
    api_keys: tuple[str, ...] = ("channex-sim-key",)
    seed: int = 0
    clock: Clock = utc_now
    sleep: Sleep = asyncio.sleep
    faults: FaultSettings = field(default_factory=FaultSettings)

    # §1.3: 10 availability and 10 restrictions calls per minute per property.
    ari_calls_per_minute: int = 10
    # §1.3 does not say whether "per minute" is a fixed or a rolling minute; the rolling window
    # is stricter (it never allows 20 calls across a minute boundary), so it is the default.
    rate_limit_window: Literal["sliding", "fixed"] = "sliding"
    # §1.3: "at most 10 MB per JSON call"; 10 MB read as 10,000,000 bytes, the smaller reading.
    max_body_bytes: int = 10_000_000

    # PART 3 #1: the docs show only meta for POST /availability; §1.9 asks simulators to return
    # the task too. "documented" returns only {"meta": {"message": "Success"}}.
    availability_response: Literal["with_task", "documented"] = "with_task"
    # §1.5 and PART 3 #4: past dates are "not allowed"; the 2025-02-10 change is unconfirmed.
    # "reject" drops such entries with a warning; "accept" stores them.
    past_dates: Literal["reject", "accept"] = "reject"
    # §1.4 documents no default for property.settings.min_stay_type; "both" is the strict one,
    # because it refuses the virtual `min_stay` field (§1.5).
    default_min_stay_type: Literal["both", "arrival", "through"] = "both"

    # PART 3 #2: ";"-separated event masks are third-party only; off, such a mask is refused.
    webhook_multi_event_masks: bool = False
    # PART 3 #2: whether property_id null means "every property" is unconfirmed; off, it is
    # refused as blank.
    webhook_global_subscriptions: bool = False
    # PART 3 #2: the retry schedule is undocumented; few retries make a client lean on the feed.
    webhook_retry_delays_seconds: tuple[float, ...] = (60.0, 300.0, 1800.0)
    webhook_timeout_seconds: float = 10.0
    # Where webhook POSTs go; None means real HTTP. Tests inject an httpx.MockTransport.
    webhook_transport: httpx.AsyncBaseTransport | None = None
    # Deliver a booking's webhooks before the control call that created it returns.
    deliver_webhooks_inline: bool = True
    # §1.6 / §1.7: non_acked_booking fires 30 minutes after first receipt.
    non_acked_delay_seconds: float = 1800.0
    # PART 3 #3: whether an unacked revision leaves the feed after 30 minutes is unconfirmed;
    # dropping it is the harsher case for a client, so it is the default. None keeps it forever.
    feed_drops_unacked_after_seconds: float | None = 1800.0
    # §1.6 names `order[inserted_at]=asc` but not the feed's default order; newest-first makes a
    # client that forgets to ask for oldest-first visibly wrong.
    feed_default_order: Literal["asc", "desc"] = "desc"

    # §1.6: no_show answers 422 method_not_supported "if the OTA does not support it", without
    # saying which do; `penalty_amount` "applies to Expedia", so these two are taken to.
    no_show_otas: tuple[str, ...] = ("Booking.com", "Expedia")
    # §1.6: invalid_card and cancel_due_invalid_card are "Booking.com only".
    invalid_card_otas: tuple[str, ...] = ("Booking.com",)
    request_log_size: int = 10_000
    # Each logged request keeps its body up to this many bytes (GET /_sim/requests?bodies=1).
    logged_body_bytes: int = DEFAULT_LOGGED_BODY_BYTES
    # How often the background pump (webhook retries, non_acked_booking) runs under uvicorn;
    # None disables it, and POST /_sim/tick runs it on demand.
    pump_interval_seconds: float | None = 1.0

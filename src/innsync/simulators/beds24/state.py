"""What the Beds24 simulator holds: tokens, the credit window, the calendar, bookings, webhooks."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from random import Random
from typing import Any

from innsync.simulators.beds24.config import SimulatorConfig
from innsync.simulators.kit.faults import FaultInjector
from innsync.simulators.kit.requests import Masker, RequestLog

Booking = dict[str, Any]


@dataclass(slots=True)
class Attempt:
    at: datetime
    status_code: int | None
    error: str | None
    is_duplicate: bool = False


@dataclass(slots=True)
class Delivery:
    """One booking webhook on its way to the property's URL (§2.8)."""

    sequence: int
    booking_id: int
    body: dict[str, Any]
    next_attempt_at: datetime | None
    status: str = "pending"
    """pending, delivered or exhausted (retries used up)."""
    attempts: list[Attempt] = field(default_factory=list)


@dataclass(slots=True)
class CreditWindow:
    """§2.3: one account's credits in the current 5-minute window."""

    started_at: datetime | None = None
    spent: float = 0.0
    charged_total: float = 0.0
    refused: int = 0
    charged_calls: int = 0


class SimulatorState:
    """Everything the simulator knows; ``reset()`` forgets it and restarts the seeded sequences."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.faults = FaultInjector(config.faults, config.seed)
        self.requests = RequestLog(config.request_log_size, config.logged_body_bytes)
        self.reset()

    def reset(self) -> None:
        self.access_tokens: dict[str, datetime] = {}
        self.refresh_tokens: set[str] = set(self.config.refresh_tokens)
        self.used_codes: set[str] = set()
        self.credits = CreditWindow()
        self.credit_limit = self.config.credits_per_window
        # (roomId, stay date) -> the calendar fields held for it (§2.6).
        self.calendar: dict[tuple[int, date], dict[str, Any]] = {}
        self.bookings: dict[int, Booking] = {}
        self.deliveries: list[Delivery] = []
        # "POST /bookings" -> how many of its next calls are carried out but answered only after
        # the fault timeout: the client gives up on a change Beds24 has made (/_sim/lost-answers).
        self.lost_answers: dict[str, int] = {}
        # §2.7 property.webhooks, per property; the start-up URL and header apply to each.
        self.webhooks: dict[int, dict[str, Any]] = {}
        if self.config.webhook_url is not None:
            for prop in self.config.properties:
                self.webhooks[prop.id] = {
                    "version": self.config.webhook_version,
                    "url": self.config.webhook_url,
                    "additionalData": "none",
                    "customHeader": self.config.webhook_custom_header,
                }
        self.rng = Random(f"{self.config.seed}:bookings")
        self.token_rng = Random(f"{self.config.seed}:tokens")
        self.delivery_rng = Random(f"{self.config.seed}:deliveries")
        self._sequence = 0
        self._booking_id = 70_000_000 + self.config.seed % 1000 * 1000
        self.faults.settings = self.config.faults
        self.faults.reseed(self.config.seed)
        self.requests = RequestLog(self.config.request_log_size, self.config.logged_body_bytes)

    def takes_answer(self, endpoint: str) -> bool:
        """Whether this call's answer is to be lost (and one fewer is owed from now on)."""
        owed = self.lost_answers.get(endpoint, 0)
        if owed <= 0:
            return False
        self.lost_answers[endpoint] = owed - 1
        return True

    def reseed_faults(self, seed: int) -> None:
        self.faults.reseed(seed)
        self.delivery_rng = Random(f"{seed}:deliveries")

    def now(self) -> datetime:
        return self.config.clock()

    def today(self) -> date:
        return self.now().date()

    def next_sequence(self) -> int:
        self._sequence += 1
        return self._sequence

    def next_booking_id(self) -> int:
        self._booking_id += 1
        return self._booking_id

    # Tokens (§2.2).

    def new_secret(self, length: int) -> str:
        alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
        return "".join(self.token_rng.choice(alphabet) for _ in range(length))

    def issue_token(self) -> tuple[str, int]:
        # §2.2: tokens are 152-172 characters long.
        token = self.new_secret(160)
        lifetime = self.config.token_lifetime_seconds
        self.access_tokens[token] = self.now() + timedelta(seconds=lifetime)
        return token, lifetime

    def token_is_valid(self, token: str | None) -> bool:
        expires = self.access_tokens.get(token or "")
        return expires is not None and expires > self.now()

    def expire_tokens(self) -> int:
        """Make every access token expire now (a control for tests); how many there were."""
        count = len(self.access_tokens)
        for token in self.access_tokens:
            self.access_tokens[token] = self.now()
        return count

    # Credits (§2.3).

    def _window(self) -> CreditWindow:
        window = self.credits
        length = timedelta(seconds=self.config.credit_window_seconds)
        if window.started_at is None or self.now() >= window.started_at + length:
            window.started_at = self.now()
            window.spent = 0.0
        return window

    def charge(self, cost: float) -> bool:
        """Spend ``cost`` credits; ``False`` (nothing spent) once the window's limit is hit."""
        window = self._window()
        if window.spent >= self.credit_limit:
            window.refused += 1
            return False
        window.spent += cost
        window.charged_total += cost
        window.charged_calls += 1
        return True

    def credit_headers(self, cost: float) -> list[tuple[str, str]]:
        window = self._window()
        assert window.started_at is not None
        length = timedelta(seconds=self.config.credit_window_seconds)
        resets_in = max((window.started_at + length - self.now()).total_seconds(), 0.0)
        remaining = max(self.credit_limit - window.spent, 0.0)
        names = (
            ("x-five-min-limit-remaining", "x-five-min-limit-resets-in", "x-request-cost")
            if self.config.credit_header_names == "wiki"
            else (
                "X-FiveMinCreditLimit-Remaining",
                "X-FiveMinCreditLimit-ResetsIn",
                "X-RequestCost",
            )
        )
        return [
            (names[0], _decimal(remaining)),
            (names[1], str(int(-(-resets_in // 1)))),
            (names[2], _decimal(cost)),
        ]

    def masker(self) -> Masker:
        """Masks tokens, refresh tokens, invite codes and the webhook header's value."""
        secrets = set(self.access_tokens) | self.refresh_tokens | set(self.config.invite_codes)
        headers = [self.config.webhook_custom_header]
        headers += [str(hook.get("customHeader") or "") for hook in self.webhooks.values()]
        for line in "\n".join(headers).splitlines():
            _, _, value = line.partition(":")
            if value.strip():
                secrets.add(value.strip())
        return Masker(frozenset(secrets))


def _decimal(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".") or "0"

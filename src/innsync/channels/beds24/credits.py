"""Beds24's account-wide credit budget (§2.3), as the response headers report it.

Every token of an account spends one budget of credits per 5-minute window; each answer says
what is left and when the window resets. A :class:`CreditMeter` per account keeps the last
reading, so a call that would find the budget spent is not sent: it raises
``ChannelUnavailableError`` with the seconds to the reset, which the engine treats as "wait",
never as a failure. Connections of one account share the meter through a :class:`CreditMeters`
(one per process by default); across processes, the account-wide bucket the adapter declares
serialises ARI pushes and a 429 still answers with the reset time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

# §2.3: the names the wiki documents and live traffic shows (lowercase, read case-insensitively).
REMAINING = "x-five-min-limit-remaining"
RESETS_IN = "x-five-min-limit-resets-in"
COST = "x-request-cost"
# §2.3 / Part 3 #6: the YAML's names, read only when the wiki's are absent.
YAML_REMAINING = "x-fivemincreditlimit-remaining"
YAML_RESETS_IN = "x-fivemincreditlimit-resetsin"
YAML_COSTS = ("x-requestcost", "x-request-cost")
WINDOW_SECONDS = 300.0


def _number(headers: Mapping[str, str], *names: str) -> float | None:
    for name in names:
        raw = headers.get(name)
        if raw is None:
            continue
        try:
            value = float(raw.strip())
        except ValueError:
            continue
        if value == value and abs(value) != float("inf"):  # not NaN, finite
            return value
    return None


@dataclass(frozen=True, slots=True)
class CreditReading:
    """What one answer said about the budget."""

    remaining: float | None
    resets_in: float | None
    cost: float | None


def read_headers(headers: Mapping[str, str]) -> CreditReading:
    """The meter headers of an answer (httpx headers are case-insensitive already)."""
    return CreditReading(
        remaining=_number(headers, REMAINING, YAML_REMAINING),
        resets_in=_number(headers, RESETS_IN, YAML_RESETS_IN),
        cost=_number(headers, COST, *YAML_COSTS),
    )


@dataclass
class CreditMeter:
    """The last reading of one account's budget."""

    remaining: float | None = None
    resets_at: datetime | None = None
    spent: float = 0.0
    """Credits the answers reported as spent, for operators and tests."""

    def record(self, reading: CreditReading, now: datetime, *, refused: bool = False) -> None:
        if reading.cost is not None:
            self.spent += reading.cost
        if reading.resets_in is not None:
            self.resets_at = now + timedelta(seconds=max(reading.resets_in, 0.0))
        if reading.remaining is not None:
            self.remaining = reading.remaining
        elif refused:
            self.remaining = 0.0
        if refused and self.resets_at is None:
            self.resets_at = now + timedelta(seconds=WINDOW_SECONDS)

    def wait_seconds(self, now: datetime, minimum: float) -> float | None:
        """Seconds to wait before the next call, or ``None`` when it may go now."""
        if self.remaining is None or self.remaining >= minimum:
            return None
        if self.resets_at is None or self.resets_at <= now:
            return None  # the window has reset since the last reading
        return (self.resets_at - now).total_seconds()


@dataclass
class CreditMeters:
    """The meters of the accounts a process talks to, by account identity."""

    meters: dict[str, CreditMeter] = field(default_factory=dict)

    def of(self, account: str) -> CreditMeter:
        return self.meters.setdefault(account, CreditMeter())


PROCESS_METERS = CreditMeters()
"""The meters adapters share by default: one per account in this process."""

"""EQC's AR warnings: values it changes or ignores while it still applies the message.

Both documented causes answer ``<Success>`` with ``<Warning code="7013">`` (EQC AR examples,
"AR Response: Success with warning"; FAQ "AR Responses Containing more than 20 Warnings"):

- Rate Verification: a cost "out of threshold" for the room type is ignored, the other values
  of the message are applied. The example's threshold is a rate of 0.00; what else trips it is
  not published [UNCONFIRMED], so a floor and an optional change limit are configurable.
- Base allocation: total inventory below the room's base allocation is capped at it.

At most 20 warnings per code come back; the 20th says how many more were left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

WARNING_CODE = 7013  # the code of both documented causes
MAX_WARNINGS_PER_CODE = 20  # FAQ: "up to 20 warnings per type of problem"
RATE_FIELDS_PREFIX = "rate"  # "rate" (PerDay) and "rate<occupancy>" (PerOccupancy)


@dataclass(frozen=True, slots=True)
class RateThreshold:
    """When Rate Verification refuses a cost [UNCONFIRMED beyond the 0.00 example]."""

    floor: Decimal = Decimal("0")
    """A cost at or below it is out of threshold (the example refuses 0.00)."""
    max_change_percent: Decimal | None = None
    """When set, a cost more than this percentage away from the one held is refused too."""

    def refuses(self, new: Decimal, held: Decimal | None) -> bool:
        if new <= self.floor:
            return True
        if self.max_change_percent is None or held is None or held == 0:
            return False
        return abs(new - held) * 100 / held > self.max_change_percent


@dataclass
class Warnings:
    """The warnings one AR message raised, grouped by code in the order they came."""

    by_code: dict[int, list[str]] = field(default_factory=dict)

    def add(self, code: int, text: str) -> None:
        self.by_code.setdefault(code, []).append(text)

    @property
    def count(self) -> int:
        return sum(len(texts) for texts in self.by_code.values())

    def answer(self) -> list[tuple[int, str]]:
        """What the RS carries: the first 20 per code, the 20th naming the rest left out."""
        shown: list[tuple[int, str]] = []
        for code, texts in self.by_code.items():
            total = len(texts)
            for number, text in enumerate(texts[:MAX_WARNINGS_PER_CODE], start=1):
                prefix = f"Warning {number} out of {total} for this cause. "
                if number == MAX_WARNINGS_PER_CODE and total > number:
                    prefix += (
                        f"Remaining {total - number} warnings will not be returned, we "
                        "recommend that you address this problem and resubmit this request "
                        "afterwards. "
                    )
                shown.append((code, prefix + text))
        return shown


def verify_rates(
    threshold: RateThreshold,
    room_id: str,
    rate_id: str,
    day: date,
    fields: dict[str, object],
    held: dict[str, object],
    warnings: Warnings,
) -> dict[str, object]:
    """``fields`` without the costs Rate Verification ignores; one warning per refused day."""
    kept: dict[str, object] = {}
    refused = False
    for name, value in fields.items():
        if name.startswith(RATE_FIELDS_PREFIX) and isinstance(value, str):
            before = held.get(name)
            if threshold.refuses(Decimal(value), Decimal(str(before)) if before else None):
                refused = True
                continue
        kept[name] = value
    if refused:
        warnings.add(
            WARNING_CODE,
            f"[Room Type ID {room_id}; Rate Plan ID {rate_id}; Stay Date {day.isoformat()}] "
            "One or more costs provided are out of threshold for an identified room type.",
        )
    return kept


def cap_inventory(
    base_allocation: int, room_id: str, day: date, fields: dict[str, object], warnings: Warnings
) -> dict[str, object]:
    """Total inventory below the base allocation is raised to it, with a warning."""
    total = fields.get("inventory")
    if not isinstance(total, int) or total >= base_allocation:
        return fields
    warnings.add(
        WARNING_CODE,
        f"Inventory date {day.isoformat()}; Room Type ID {room_id}; Unable to set total "
        f"inventory below the current base allocation value ({base_allocation}). Update will "
        "be modified to cap reduction to base allocation level.",
    )
    return {**fields, "inventory": base_allocation}

"""Which backups a schedule keeps: the newest of each of the last N hours, days and ISO weeks
that have a backup (as borg and restic count them), and always the newest verified backup."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Kept:
    """One backup as retention sees it."""

    name: str
    created_at: datetime
    is_verified: bool


@dataclass(frozen=True)
class Policy:
    hourly: int = 24
    daily: int = 14
    weekly: int = 8


def _newest_per_bucket(
    newest_first: Sequence[Kept], bucket: Callable[[datetime], Hashable], count: int
) -> set[str]:
    kept: set[str] = set()
    seen: set[Hashable] = set()
    for backup in newest_first:
        key = bucket(backup.created_at)
        if key in seen:
            continue
        if len(seen) == count:
            break
        seen.add(key)
        kept.add(backup.name)
    return kept


def to_keep(backups: Sequence[Kept], policy: Policy) -> set[str]:
    """The names to keep; every other backup may be deleted."""
    newest_first = sorted(backups, key=lambda backup: backup.created_at, reverse=True)
    kept = _newest_per_bucket(newest_first, lambda at: (at.date(), at.hour), policy.hourly)
    kept |= _newest_per_bucket(newest_first, lambda at: at.date(), policy.daily)
    kept |= _newest_per_bucket(newest_first, lambda at: at.isocalendar()[:2], policy.weekly)
    verified = next((backup for backup in newest_first if backup.is_verified), None)
    if verified is not None:
        # Whatever the policy says, the one backup known to restore is never deleted.
        kept.add(verified.name)
    return kept

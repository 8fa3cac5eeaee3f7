"""The iCal channel (RFC 5545): one connection per listing, dates only.

Import: :meth:`IcalChannel.pull_revisions` reads the platform's feed (conditional GET), diffs
it by UID against the snapshot of the last read and turns the difference into booking
revisions for the inbox: a new UID is a new booking, changed dates a modification, a vanished
UID a cancellation (iCal has no other way to say so, landscape §4.3). Closed dates ("Airbnb (Not
available)", "Blocked") are never bookings (§4.5): each page carries them all as
:class:`ClosedDates`, which the reconciler mirrors as blocks owned by the connection. Export is
served by innsync itself (``innsync.ical_export``), not by this adapter.

Replays and restarts are idempotent: a revision's id is derived from the UID, the UID's
generation (bumped at each disappearance) and the dates, and the inbox keeps each id once. The
snapshot each cursor names is kept until the next read, so a read whose page was not committed
is diffed again from the same baseline.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx

from innsync.channels.credentials import Credential, CredentialStore, InMemoryCredentialStore
from innsync.channels.errors import ChannelUnavailableError, MappingMissingError
from innsync.channels.http import WallClock, utc_now
from innsync.channels.ical.client import (
    FeedBrokenError,
    FeedStaleError,
    fetch_feed,
)
from innsync.channels.ical.config import IcalConfig
from innsync.channels.ical.ics import FeedEvent, IcsError, is_block, parse_calendar
from innsync.channels.types import (
    BookedRoom,
    BookingRevision,
    ChannelLimits,
    ClosedDates,
    GuestDetails,
    RevisionPage,
)

STATE_NAME = "ical-feed"
# Nothing is pushed to an iCal channel; the limits only bound the (absent) push budget.
ICAL_LIMITS = ChannelLimits(requests_per_window=1, window_seconds=60.0)
# Platforms drop past stays from their feeds: a UID that vanishes after its stay ended (with a
# day of slack for the property's time zone) aged out; it was not cancelled.
AGED_OUT_SLACK = timedelta(days=1)

Snapshot = dict[str, list[Any]]  # uid -> [start, end, fingerprint, generation]


@dataclass
class FeedState:
    """What the adapter keeps between reads (in the connection's credential store, encrypted)."""

    snapshots: dict[str, Snapshot] = field(default_factory=dict)
    latest: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    generations: dict[str, int] = field(default_factory=dict)
    health: dict[str, Any] = field(default_factory=dict)
    closed: list[list[str]] = field(default_factory=list)
    """The closed ranges of the last read ``[start, end]`` (ISO dates), for a 304."""

    @classmethod
    def load(cls, text: str | None) -> FeedState:
        if not text:
            return cls()
        data = json.loads(text)
        return cls(**{key: data[key] for key in data if key in cls.__dataclass_fields__})

    def dump(self) -> str:
        return json.dumps(
            {
                "snapshots": self.snapshots,
                "latest": self.latest,
                "etag": self.etag,
                "last_modified": self.last_modified,
                "generations": self.generations,
                "health": self.health,
                "closed": self.closed,
            },
            sort_keys=True,
        )


def _digest(snapshot: Snapshot) -> str:
    return hashlib.sha256(json.dumps(snapshot, sort_keys=True).encode()).hexdigest()[:24]


def _uid_key(uid: str) -> str:
    return hashlib.sha256(uid.encode()).hexdigest()[:20]


class IcalChannel:
    """Reads one listing's feed; see the module docstring."""

    def __init__(
        self,
        config: IcalConfig,
        http: httpx.AsyncClient,
        *,
        credentials: CredentialStore | None = None,
        now: WallClock = utc_now,
    ) -> None:
        self.config = config
        self._http = http
        self._store = credentials or InMemoryCredentialStore()
        self._now = now

    @property
    def name(self) -> str:
        return "ical"

    @property
    def limits(self) -> ChannelLimits:
        return ICAL_LIMITS

    @property
    def pull_interval_seconds(self) -> float:
        jitter = random.uniform(0.0, self.config.pull_jitter_ratio)  # noqa: S311  (not security)
        return self.config.pull_interval_seconds * (1.0 + jitter)

    async def test_connection(self) -> None:
        """Read and parse the feed once (nothing is stored); export-only connections pass."""
        if self.config.feed_url is None:
            return
        answer = await self._fetch(None, None)
        self._parse(answer.body or b"")

    async def pull_revisions(self, cursor: str | None) -> RevisionPage:
        if self.config.feed_url is None:
            raise MappingMissingError("no feed_url: this iCal connection only exports")
        stored = await self._store.load(STATE_NAME)
        state = FeedState.load(stored.token if stored else None)
        now = self._now()
        known = state.latest is not None and state.latest in state.snapshots
        baseline = state.snapshots.get(cursor) if cursor else {}
        state.health.setdefault("first_attempt", now.isoformat())
        try:
            answer = await self._fetch(
                state.etag if known else None, state.last_modified if known else None
            )
            if answer.body is None:
                current, closed = state.snapshots[state.latest or ""], state.closed
            else:
                current, closed = self._bookings(self._parse(answer.body))
            self._hold_sudden_drop(baseline, current, len(closed), now.date())
        except (FeedBrokenError, ChannelUnavailableError) as exc:
            state.health.update(last_error=str(exc), last_error_at=now.isoformat())
            stale = self._newly_stale(state.health, now)
            await self._save(state)
            if stale:
                raise FeedStaleError(
                    f"the ical feed has not been read successfully since {stale}: {exc}"
                ) from exc
            raise
        revisions = self._diff(baseline, current, state, now)
        digest = _digest(current)
        kept = {digest: current}
        if cursor and baseline is not None:
            kept[cursor] = baseline
        state.snapshots, state.latest, state.closed = kept, digest, closed
        if answer.body is not None:
            state.etag, state.last_modified = answer.etag, answer.last_modified
        state.health.update(
            last_status=answer.status,
            last_success=now.isoformat(),
            events_seen=len(current) + len(closed),
            bookings_seen=len(current),
            blocks_seen=len(closed),
            last_error="",
            stale_reported="",
        )
        await self._save(state)
        code = self.config.room_type_code
        mirrored = closed if self.config.close_blocked_dates else []
        return RevisionPage(
            tuple(revisions),
            digest,
            closed=tuple(
                ClosedDates(code, date.fromisoformat(start), date.fromisoformat(end))
                for start, end in mirrored
            ),
        )

    def _newly_stale(self, health: dict[str, Any], now: datetime) -> str | None:
        """When the last success (or the first try) was, if that is longer ago than
        ``stale_after_seconds`` and not told yet; remembered, so it is told once per spell."""
        since = health.get("last_success") or health.get("first_attempt")
        if not since or health.get("stale_reported"):
            return None
        limit = timedelta(seconds=self.config.stale_after_seconds)
        if now - datetime.fromisoformat(since) <= limit:
            return None
        health["stale_reported"] = now.isoformat()
        return str(since)

    async def _fetch(self, etag: str | None, last_modified: str | None) -> Any:
        assert self.config.feed_url is not None
        url = self.config.feed_url.get_secret_value()
        return await fetch_feed(
            self._http,
            url,
            etag=etag,
            last_modified=last_modified,
            timeout=self.config.timeout_seconds,
            max_bytes=self.config.max_feed_bytes,
            now=self._now(),
        )

    def _parse(self, body: bytes) -> list[FeedEvent]:
        try:
            return parse_calendar(body, max_events=self.config.max_events)
        except IcsError as exc:
            raise FeedBrokenError(f"the ical feed cannot be read: {exc}") from exc

    def _bookings(self, events: list[FeedEvent]) -> tuple[Snapshot, list[list[str]]]:
        """The feed's bookings by UID, and its closed ranges (summaries matching
        ``block_patterns``), which are never bookings."""
        bookings: Snapshot = {}
        closed: list[list[str]] = []
        for event in events:
            if is_block(event.summary, self.config.block_patterns):
                closed.append([event.start.isoformat(), event.end.isoformat()])
                continue
            bookings[event.uid] = [
                event.start.isoformat(),
                event.end.isoformat(),
                event.fingerprint,
            ]
        return bookings, sorted(closed)

    def _hold_sudden_drop(
        self, baseline: Snapshot | None, current: Snapshot, blocks: int, today: date
    ) -> None:
        if not baseline or self.config.allow_mass_cancellation:
            return
        upcoming = [uid for uid, held in baseline.items() if not _aged_out(held, today)]
        lost = [uid for uid in upcoming if uid not in current]
        if not lost:
            return
        emptied = not current and blocks == 0
        many = len(upcoming) >= self.config.hold_min_bookings and len(
            lost
        ) > self.config.hold_drop_ratio * len(upcoming)
        if emptied or many:
            raise FeedBrokenError(
                f"the ical feed lost {len(lost)} of {len(upcoming)} upcoming bookings at once; "
                "held for review, nothing cancelled (set allow_mass_cancellation to accept)"
            )

    def _diff(
        self, baseline: Snapshot | None, current: Snapshot, state: FeedState, now: datetime
    ) -> list[BookingRevision]:
        revisions = []
        for uid, (start, end, fingerprint, *_) in sorted(current.items()):
            before = (baseline or {}).get(uid)
            generation = state.generations.get(uid, 0)
            current[uid] = [start, end, fingerprint, generation]
            if before is not None and before[2] == fingerprint:
                continue
            status = "modified" if before is not None else "new"
            revisions.append(self._revision(uid, generation, fingerprint, status, start, end, now))
        for uid, (start, end, _, generation) in sorted((baseline or {}).items()):
            if uid in current:
                continue
            if _aged_out([start, end], now.date()):
                continue  # a past stay dropped off the feed; nothing to remember of it
            state.generations[uid] = generation + 1
            revisions.append(self._revision(uid, generation, "gone", "cancelled", start, end, now))
        return revisions

    def _revision(
        self,
        uid: str,
        generation: int,
        fingerprint: str,
        status: str,
        start: str,
        end: str,
        now: datetime,
    ) -> BookingRevision:
        arrival, departure = date.fromisoformat(start), date.fromisoformat(end)
        rooms = (
            () if status == "cancelled" else (BookedRoom(self.config.room_type_code, None, 1, ()),)
        )
        booking_id = uid if len(uid) <= 120 else f"uid-{_uid_key(uid)}"
        return BookingRevision(
            channel_booking_id=booking_id,
            revision_id=f"{_uid_key(uid)}.{generation}.{fingerprint}",
            status=status,  # type: ignore[arg-type]
            arrival=arrival,
            departure=departure,
            rooms=rooms,
            guest=GuestDetails(),
            total_amount=Decimal(0),
            currency=self.config.currency,
            received_at=now,
            ota_name=self.config.platform,
        )

    async def _save(self, state: FeedState) -> None:
        await self._store.persist(STATE_NAME, Credential(token=state.dump()))


def _aged_out(held: list[Any], today: date) -> bool:
    return date.fromisoformat(held[1]) < today - AGED_OUT_SLACK

"""What both sides show right now: the simulator's request log and bookings, innsync's tables.

innsync's side is read straight from its SQLite file (reads never wait for its writer under
WAL); the simulator's through its ``/_sim`` inspection endpoints.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from innsync.demo.traffic import Tally
from innsync.inbox.models import InboxItem
from innsync.outbox.models import DirtyMark
from innsync.reservations.models import Reservation

ARI_CLASSES = ("availability", "restrictions")


@dataclass(frozen=True, slots=True)
class ChannexView:
    """The simulator's side: calls innsync made, and the bookings OTAs made."""

    ari_calls: int  # ARI writes Channex accepted
    rate_limited: int  # answers 429, any endpoint
    requests: int
    revisions: int
    bookings: int
    unacked: int

    @classmethod
    def read(cls, sim: httpx.Client, channex_property_id: str) -> ChannexView:
        requests: list[dict[str, Any]] = sim.get("/_sim/requests").json()["data"]
        revisions = [
            row
            for row in sim.get("/_sim/bookings").json()["data"]
            if row["property_id"] == channex_property_id
        ]
        statuses = Counter(
            (row["method"], row["endpoint_class"], row["status"]) for row in requests
        )
        return cls(
            ari_calls=sum(statuses[("POST", kind, 200)] for kind in ARI_CLASSES),
            rate_limited=sum(count for (_, _, status), count in statuses.items() if status == 429),
            requests=len(requests),
            revisions=len(revisions),
            bookings=len({row["booking_id"] for row in revisions}),
            unacked=sum(1 for row in revisions if row["acked_at"] is None),
        )


@dataclass(frozen=True, slots=True)
class InnsyncView:
    """innsync's side: bookings it holds, and the work it has not finished yet."""

    channel_bookings: int
    direct_bookings: int
    overbooked: int
    dirty_marks: int
    inbox_pending: int
    inbox_parked: int

    @classmethod
    def read(
        cls, sessions: sessionmaker[Session], property_id: uuid.UUID, connection_id: uuid.UUID
    ) -> InnsyncView:
        with sessions() as session:
            sources = dict(
                session.execute(
                    select(Reservation.source, func.count())
                    .where(Reservation.property_id == property_id)
                    .group_by(Reservation.source)
                ).all()
            )
            overbooked = session.scalar(
                select(func.count()).where(
                    Reservation.property_id == property_id, Reservation.is_overbooked.is_(True)
                )
            )
            marks = session.scalar(
                select(func.count()).where(DirtyMark.connection_id == connection_id)
            )
            inbox = dict(
                session.execute(
                    select(InboxItem.status, func.count())
                    .where(InboxItem.connection_id == connection_id)
                    .group_by(InboxItem.status)
                ).all()
            )
        return cls(
            channel_bookings=int(sources.get(str(connection_id), 0)),
            direct_bookings=int(sources.get("direct", 0)),
            overbooked=int(overbooked or 0),
            dirty_marks=int(marks or 0),
            inbox_pending=int(inbox.get("pending", 0)),
            inbox_parked=int(inbox.get("parked", 0)),
        )


def summary_line(
    elapsed_seconds: float, tally: Tally, channex: ChannexView, ours: InnsyncView
) -> str:
    """The live one-liner: changes sent, bookings generated vs received, backlog, problems."""
    minutes, seconds = divmod(int(elapsed_seconds), 60)
    return (
        f"[{minutes:02d}:{seconds:02d}] "
        f"PMS changes {tally.rate_changes + tally.restriction_changes}, "
        f"ARI calls to Channex {channex.ari_calls} | "
        f"OTA bookings {channex.bookings} ({channex.revisions} revisions), "
        f"in innsync {ours.channel_bookings} | direct {ours.direct_bookings} | "
        f"backlog: {ours.dirty_marks} dirty, {ours.inbox_pending} inbox, "
        f"{channex.unacked} unacked | overbooked {ours.overbooked} | "
        f"429s {channex.rate_limited}"
    )

"""API shapes of guest erasure."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, Field

from innsync.properties.schemas import StrictModel


class GuestErase(StrictModel):
    """The guest to erase, by the e-mail their bookings carry (exact, any case)."""

    email: str = Field(min_length=3, max_length=320)


class ErasureRead(BaseModel):
    """What was erased: ids and counts only; the bookings themselves stay."""

    guest_id: uuid.UUID | None = Field(description="None when the reservation had no guest")
    reservation_ids: list[uuid.UUID] = Field(description="Every reservation of the guest")
    changes: int = Field(description="History rows scrubbed")
    conflicts: int
    events: int = Field(description="Event payloads scrubbed, delivered or not")
    inbox_items: int = Field(description="Raw inbound bodies emptied")
    inbox_items_pending: int = Field(
        description="Inbound items of these bookings not yet applied, left as they are: "
        "erase again once they are applied"
    )
    sync_log_entries: int
    booking_pushes: int

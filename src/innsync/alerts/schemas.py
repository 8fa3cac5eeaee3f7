"""API shapes of alerts."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from innsync.alerts.models import Alert


class AlertRead(BaseModel):
    """An alert as the API shows it: open, or resolved (the history)."""

    id: uuid.UUID
    rule: str
    subject_kind: str
    subject_id: str
    state: str
    opened_at: datetime
    last_seen_at: datetime
    resolved_at: datetime | None
    details: dict[str, Any]

    @classmethod
    def of(cls, alert: Alert) -> AlertRead:
        return cls(
            id=alert.id,
            rule=alert.rule,
            subject_kind=alert.subject_kind,
            subject_id=alert.subject_id,
            state=alert.state,
            opened_at=alert.opened_at,
            last_seen_at=alert.last_seen_at,
            resolved_at=alert.resolved_at,
            details=alert.details,
        )

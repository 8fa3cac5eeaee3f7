"""API shapes of alerts and their notification targets."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from innsync.alerts.models import Alert, TargetKind
from innsync.alerts.rules import AlertRule, Severity


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


MAX_ADDRESS = 2000
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


class NotificationTargetCreate(BaseModel):
    """Who is told about the tenant's alerts, and which ones."""

    model_config = ConfigDict(extra="forbid")

    kind: TargetKind
    name: str = Field(min_length=1, max_length=120)
    address: str = Field(
        min_length=3,
        max_length=MAX_ADDRESS,
        description="An e-mail address (email), or the URL to POST to (webhook, slack)",
    )
    secret: str | None = Field(
        default=None,
        min_length=16,
        max_length=200,
        description="webhook only: the signing secret; generated when omitted",
    )
    rules: list[AlertRule] = Field(default_factory=list, description="Empty: every rule")
    min_severity: Severity = Severity.WARNING

    @model_validator(mode="after")
    def _address_fits_kind(self) -> NotificationTargetCreate:
        if self.kind == TargetKind.EMAIL:
            if len(self.address) > 254 or not EMAIL.match(self.address):
                raise ValueError("address should be an e-mail address for an email target")
        elif not self.address.startswith(("https://", "http://")):
            raise ValueError(f"address should be an http(s) URL for a {self.kind} target")
        if self.secret is not None and self.kind != TargetKind.WEBHOOK:
            raise ValueError("only webhook targets take a signing secret")
        return self


class NotificationTargetUpdate(BaseModel):
    """What may change on a target; its kind and address are replaced by a new target."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=120)
    rules: list[AlertRule] | None = None
    min_severity: Severity | None = None
    is_active: bool | None = None


class NotificationTargetRead(BaseModel):
    """A target as the API shows it: an URL only by its host (a Slack URL is a credential)."""

    id: uuid.UUID
    kind: str
    name: str
    address: str
    rules: list[str]
    min_severity: str
    is_active: bool
    created_at: datetime


class NotificationTargetCreated(NotificationTargetRead):
    secret: str | None = Field(description="webhook: the signing secret, shown this once")


class TestNotificationResult(BaseModel):
    delivered: bool
    error: str | None = None

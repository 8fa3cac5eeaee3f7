"""The record of every backup operation: who, when, how big, how long, and how it ended."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from innsync.db.base import Base, BigIntId, UtcDateTime


class BackupOperation(Base):
    """One backup operation, kept in the database it was run against.

    Never part of a backup itself: a restore must not replace the history of the installation it
    runs on (``innsync.backups.service.EXCLUDED_TABLES``).
    """

    __tablename__ = "backup_operations"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    # create | verify | restore | delete | prune | export | import
    operation: Mapped[str] = mapped_column(String(16))
    backup_name: Mapped[str | None] = mapped_column(String(120), default=None)
    actor: Mapped[str] = mapped_column(String(120))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    duration_ms: Mapped[int] = mapped_column(Integer)
    size_bytes: Mapped[int | None] = mapped_column(BigInteger, default=None)
    outcome: Mapped[str] = mapped_column(String(16))  # ok|failed
    detail: Mapped[str | None] = mapped_column(Text, default=None)

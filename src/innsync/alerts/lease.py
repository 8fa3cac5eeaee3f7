"""One evaluator per pass: the process that moves ``alert_passes.last_pass_at`` forward
evaluates, every other process running the loops skips that pass.

The move is one conditional ``UPDATE`` (``last_pass_at`` at least an interval old) in the
evaluation's own transaction, so it holds the row's lock until the pass commits: a second
process's update waits, then finds the pass taken (PostgreSQL and MariaDB re-read the committed
row; SQLite has one writer). A pass that fails rolls the move back, and the next process to try
takes it at once.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from innsync.alerts.models import AlertPass

EVALUATION = "evaluate"


def take_pass(session: Session, holder: str, now: datetime, interval: timedelta) -> bool:
    """In the caller's transaction: True when this holder takes the pass due at ``now``."""
    if session.scalar(select(AlertPass.name).where(AlertPass.name == EVALUATION)) is None:
        try:
            with session.begin_nested():
                session.add(AlertPass(name=EVALUATION))
        except IntegrityError:
            pass  # another process created it first: that is all we wanted
    taken = session.execute(
        update(AlertPass)
        .where(
            AlertPass.name == EVALUATION,
            or_(AlertPass.last_pass_at.is_(None), AlertPass.last_pass_at <= now - interval),
        )
        .values(holder=holder[:120], last_pass_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(taken, "rowcount", 0) == 1)

"""Background loops of one innsync process: event sequencing and webhook delivery.

In ``innsync serve`` they run as threads beside the API; each pass is its own short transaction,
so several processes can run them against PostgreSQL or MariaDB at once (rows are claimed with
SKIP LOCKED and the feed counter is a locked row).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import httpx
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from innsync.crypto import SecretBox
from innsync.db.engine import transaction
from innsync.events.delivery import deliver_due
from innsync.events.service import sequence_pending
from innsync.settings import Settings

logger = logging.getLogger(__name__)


class BackgroundLoops:
    """Starts and stops the loops; each loop sleeps only when its last pass found no work."""

    def __init__(self, sessions: sessionmaker[Session], box: SecretBox, settings: Settings) -> None:
        self._sessions = sessions
        self._box = box
        self._settings = settings
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        self._stop.clear()
        client = httpx.Client(timeout=self._settings.webhook_timeout_seconds)
        for name, step in (
            ("events-sequencer", self._sequence),
            ("webhook-delivery", lambda: self._deliver(client)),
        ):
            thread = threading.Thread(target=self._run, args=(name, step), name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
        self._threads.clear()

    def _run(self, name: str, step: Callable[[], int]) -> None:
        while not self._stop.is_set():
            try:
                done = step()
            except (SQLAlchemyError, httpx.HTTPError):
                # The database or network is briefly away; the next pass picks the work up again.
                logger.exception("background pass failed", extra={"loop": name})
                done = 0
            if not done:
                self._stop.wait(self._settings.loop_interval_seconds)

    def _sequence(self) -> int:
        with transaction(self._sessions) as session:
            return sequence_pending(session)

    def _deliver(self, client: httpx.Client) -> int:
        return deliver_due(
            self._sessions,
            client,
            self._box,
            max_attempts=self._settings.webhook_max_attempts,
            timeout_seconds=self._settings.webhook_timeout_seconds,
        )

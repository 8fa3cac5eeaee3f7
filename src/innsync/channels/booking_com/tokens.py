"""Booking.com's JWTs: exchanged for the machine account's id and secret, 30 per hour at most.

The token lives one hour (§3.1 Auth) and is kept by the kit's ``TokenKeeper`` (renewed two
minutes before it expires, encrypted in the connection's credential store, one refresh per
connection across processes). The token and the hourly cap are the machine account's, whichever
connection asks: :class:`MachineAccountBudget` hands a connection that needs a token the one
another connection of the same account got in this process, while it is still good, and counts
the exchanges it does make, refusing one past the cap as "retry later" so a token storm never
locks the account out. A machine account serving 40 hotels thus spends one token an hour per
process, not 40.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
from collections import deque
from datetime import UTC, datetime, timedelta
from typing import Any

from innsync.channels.credentials import Credential
from innsync.channels.errors import ChannelUnavailableError

# §3.1 Auth: "valid 1 hour"; used when the answer carries neither expires_in nor an exp claim.
TOKEN_LIFETIME = timedelta(hours=1)
# §3.1 Auth: "at most 30 tokens per hour", counted over a rolling hour.
BUDGET_WINDOW = timedelta(hours=1)


class MachineAccountBudget:
    """Token exchanges per machine account over the last hour, shared by every connection."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._issued: dict[str, deque[datetime]] = {}
        self._latest: dict[str, Credential] = {}

    def shared(self, account: str, now: datetime, refused: Credential | None) -> Credential | None:
        """The account's latest token when it is still good and is not the one just refused."""
        with self._lock:
            latest = self._latest.get(account)
        if latest is None or not latest.is_usable(now):
            return None
        if refused is not None and refused.token == latest.token:
            return None
        return latest

    def remember(self, account: str, credential: Credential) -> None:
        with self._lock:
            self._latest[account] = credential

    def spend(self, account: str, cap: int, now: datetime) -> None:
        """Count one exchange for ``account``; refuse it (retry later) past ``cap`` an hour."""
        with self._lock:
            issued = self._issued.setdefault(account, deque())
            while issued and issued[0] <= now - BUDGET_WINDOW:
                issued.popleft()
            if len(issued) >= cap:
                wait = (issued[0] + BUDGET_WINDOW - now).total_seconds()
                raise ChannelUnavailableError(
                    f"the Booking.com machine account has used its {cap} tokens this hour",
                    retry_after=max(wait, 1.0),
                )
            issued.append(now)

    def spent(self, account: str, now: datetime) -> int:
        with self._lock:
            return sum(
                1 for moment in self._issued.get(account, ()) if moment > now - BUDGET_WINDOW
            )


# One per process: connections of one machine account share its hourly cap (§3.1).
MACHINE_ACCOUNTS = MachineAccountBudget()


def _jwt_expiry(token: str) -> datetime | None:
    """The ``exp`` claim of a JWT, read without verifying it (only to know when to renew)."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    padded = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(padded))
    except (binascii.Error, ValueError):
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    if isinstance(exp, int | float) and not isinstance(exp, bool):
        return datetime.fromtimestamp(exp, UTC)
    return None


def credential_from_answer(answer: Any, now: datetime) -> Credential:
    """The token of an exchange answer; its expiry from ``expires_in``, the JWT, or 1 hour.

    [UNCONFIRMED] the answer's field names: ``jwt``, ``access_token`` and ``token`` are read.
    """
    if not isinstance(answer, dict):
        raise ChannelUnavailableError("Booking.com's token answer is not a JSON object")
    token = next(
        (
            answer[key]
            for key in ("jwt", "access_token", "token")
            if isinstance(answer.get(key), str)
        ),
        None,
    )
    if not token:
        raise ChannelUnavailableError("Booking.com's token answer holds no token")
    lifetime = answer.get("expires_in")
    if isinstance(lifetime, int | float) and not isinstance(lifetime, bool) and lifetime > 0:
        expires = now + timedelta(seconds=float(lifetime))
    else:
        expires = _jwt_expiry(token) or now + TOKEN_LIFETIME
    return Credential(token=token, expires_at=expires)

"""Booking.com's JWTs: exchanged for the machine account's id and secret, 30 per hour at most.

The token lives one hour (§3.1 Auth) and is kept by the kit's ``TokenKeeper`` (renewed two
minutes before it expires). Token and cap are the machine account's, whichever hotel's
connection asks, so both live in the kit's account credential store
(``channels.credentials.AccountCredentialStore``; on the database in the worker and API, shared
by every process): the token under the account's key, the exchanges counted under the key of
its client id. A machine account serving 40 hotels thus spends one token an hour in all, and
an exchange past the cap is refused as "retry later" without calling Booking.com, so a token
storm never locks the account out.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from innsync.channels.booking_com.config import BookingComConfig
from innsync.channels.credentials import Credential
from innsync.channels.errors import ChannelUnavailableError

# §3.1 Auth: "valid 1 hour"; used when the answer carries neither expires_in nor an exp claim.
TOKEN_LIFETIME = timedelta(hours=1)
# §3.1 Auth: "at most 30 tokens per hour", counted over a rolling hour.
BUDGET_WINDOW = timedelta(hours=1)
# The names of the token and of the exchange count in the account credential store.
ACCESS = "access"
EXCHANGES = "exchanges"


def account_key(config: BookingComConfig) -> str:
    """Who Booking.com counts token exchanges against: the machine account's client id."""
    return f"booking_com {config.auth_url} {config.client_id}"


def token_key(config: BookingComConfig) -> str:
    """Whose token a connection may use: the machine account, *and* proof of its secret.

    A digest of the secret (never the secret) so a connection naming another's client id with
    a wrong secret cannot borrow its token.
    """
    secret = hashlib.sha256(config.client_secret.get_secret_value().encode()).hexdigest()
    return f"{account_key(config)} {secret}"


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

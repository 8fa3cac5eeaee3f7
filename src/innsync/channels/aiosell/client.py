"""HTTP calls to Aiosell (aiosell.md §1.4) over the channel kit's ``ChannelHttp``.

Every call carries HTTP Basic auth (§1.3), built again for each request, so a retry carries it
too. Aiosell answers bad credentials with HTTP 400 ``Authentication Required!`` and a disabled
partner with ``Partner is disabled!`` (§1.3): both become ``ChannelAuthError``.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict

from innsync.channels.aiosell.config import AiosellConfig
from innsync.channels.errors import ChannelAuthError, ChannelRejectedError
from innsync.channels.http import ChannelHttp, WallClock, parse_answer, utc_now

CHANNEL = "Aiosell"
# §1.3 (3P): the messages that mean the credentials or the partner are refused.
AUTH_MESSAGES = ("authentication required", "partner is disabled")


class AiosellReply(BaseModel):
    """§1.4: every update answers ``{"success": bool, "message": str}``."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    success: bool
    message: str | None = None


def describe(response: httpx.Response) -> str:
    """Aiosell's own message from an error answer, or the status phrase."""
    try:
        payload = response.json()
    except (ValueError, RecursionError):
        return response.reason_phrase or ""
    if isinstance(payload, dict) and isinstance(payload.get("message"), str):
        return str(payload["message"])[:200]
    return response.reason_phrase or ""


class AiosellClient:
    """The documented PMS → Aiosell calls of one connection."""

    def __init__(
        self, config: AiosellConfig, http: httpx.AsyncClient, *, now: WallClock = utc_now
    ) -> None:
        self._config = config
        self._http = ChannelHttp(
            http=http,
            channel=CHANNEL,
            base_url=config.base_url,
            timeout=httpx.Timeout(config.timeout_seconds, connect=config.connect_timeout_seconds),
            auth_headers=self._auth_headers,
            describe=describe,
            # §1.13: about 30 updates a second; a 429 without Retry-After waits a second.
            rate_limit_pause=1.0,
            now=now,
        )

    async def _auth_headers(self) -> Mapping[str, str]:
        pair = f"{self._config.username}:{self._config.password.get_secret_value()}"
        return {"authorization": "Basic " + base64.b64encode(pair.encode()).decode()}

    async def update_inventory(self, body: Mapping[str, Any]) -> AiosellReply:
        """§1.5/§1.6: ``POST /update/{partner}``, inventory or room-level restrictions."""
        return await self._post(f"/update/{self._config.partner}", body)

    async def update_rates(self, body: Mapping[str, Any]) -> AiosellReply:
        """§1.7/§1.8: ``POST /update-rates/{partner}``, rates or rate-plan restrictions."""
        return await self._post(f"/update-rates/{self._config.partner}", body)

    async def fetch(self, body: Mapping[str, Any]) -> Any:
        """§1.9: ``POST /data/{partner}``, what Aiosell holds (read only)."""
        return await self._call(f"/data/{self._config.partner}", body)

    async def _post(self, path: str, body: Mapping[str, Any]) -> AiosellReply:
        reply = parse_answer(AiosellReply, await self._call(path, body), CHANNEL, f"POST {path}")
        if not reply.success and _is_auth_message(reply.message):
            raise ChannelAuthError(f"{CHANNEL} POST {path} refused the credentials")
        return reply

    async def _call(self, path: str, body: Mapping[str, Any]) -> Any:
        try:
            return await self._http.json("POST", path, body=dict(body))
        except ChannelRejectedError as exc:
            if _is_auth_message(str(exc)):
                raise ChannelAuthError(str(exc)) from exc
            raise


def _is_auth_message(message: str | None) -> bool:
    lowered = (message or "").lower()
    return any(part in lowered for part in AUTH_MESSAGES)

"""HTTP to the Octorate Connect API (REST/JSON, ``/connect/rest/v1``) over the kit's ChannelHttp.

Every call carries ``Authorization: Bearer`` (§2.2). The token comes from a :class:`TokenKeeper`:
the OAuth callback stored the first one with its refresh token; it is renewed by the absolute
``expireDate`` (two minutes early), one refresh at a time per connection, and a 401 (an expired
or revoked token, ``ApiLoginExpired``) refreshes and retries once. Octorate words its refusals as
``{"type", "message", "status"}``; the type decides the outcome, since its 403 means three
things: the quota is spent (``ApiQuotaException``, retry later), the app lacks the role, or the
accommodation is not granted (both need a person).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

import httpx

from innsync.channels.credentials import Credential, CredentialStore, TokenKeeper
from innsync.channels.errors import (
    ChannelAuthError,
    ChannelThrottledError,
    ChannelUnavailableError,
)
from innsync.channels.http import ChannelHttp, WallClock, encode_json, json_body
from innsync.channels.octorate import oauth
from innsync.channels.octorate.config import OctorateApp, OctorateConfig

CHANNEL = oauth.CHANNEL
ACCESS = "access"
QUOTA_ERROR = "ApiQuotaException"
# A guard against a listing whose pages never end (products or reservations of one hotel).
MAX_PAGES = 100


class NotConnectedError(ChannelAuthError):
    """No token yet: the hotel has not approved the app (the OAuth connect step)."""


class OctorateClient:
    """The calls innsync makes for one hotel, over an injected ``httpx.AsyncClient``."""

    def __init__(
        self,
        config: OctorateConfig,
        app: OctorateApp,
        http: httpx.AsyncClient,
        *,
        credentials: CredentialStore,
        now: WallClock,
    ) -> None:
        self._config = config
        self._app = app
        self._raw_http = http
        self._now = now
        self._last: httpx.Response | None = None
        self._http = ChannelHttp(
            http=http,
            channel=CHANNEL,
            base_url=app.api_root.rstrip("/"),
            timeout=httpx.Timeout(config.timeout_seconds, connect=config.connect_timeout_seconds),
            auth_headers=self._auth_headers,
            describe=oauth.describe,
            rate_limit_pause=config.quota_window_seconds,
            now=now,
            secret_names=oauth.SECRET_FIELDS,
            on_response=self._observe,
        )
        self.keeper = TokenKeeper(credentials, ACCESS, self._obtain, now=now)
        self._current_token: str | None = None

    async def _auth_headers(self) -> Mapping[str, str]:
        self._current_token = await self.keeper.token()
        return {"authorization": f"Bearer {self._current_token}"}

    async def _obtain(self, current: Credential | None) -> Credential:
        if current is None or current.refresh_token is None:
            raise NotConnectedError(
                "the hotel has not connected innsync's Octorate app yet: open "
                "GET /api/v1/connections/{id}/oauth/start"
            )
        return await oauth.refresh(self._raw_http, self._app, current.refresh_token, self._now)

    def _observe(self, response: httpx.Response) -> None:
        self._last = response

    def _error_type(self) -> str | None:
        response = self._last
        if response is None or response.is_success:
            return None
        try:
            payload = response.json()
        except (ValueError, RecursionError):
            return None
        kind = payload.get("type") if isinstance(payload, dict) else None
        return kind if isinstance(kind, str) else None

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
    ) -> Any:
        """One authenticated JSON call; a 401 refreshes the token and retries once."""
        content = None if body is None else encode_json(body)
        for attempt in (1, 2):
            self._last = None
            try:
                response = await self._http.send(
                    method,
                    path,
                    params=params,
                    content=content,
                    content_type=None if content is None else "application/json",
                    headers={"accept": "application/json"},
                )
            except ChannelAuthError as exc:
                status = self._last.status_code if self._last is not None else None
                if self._error_type() == QUOTA_ERROR:
                    # §2.6: the quota is spent; innsync's own limiter should have prevented it.
                    raise ChannelThrottledError(
                        str(exc), retry_after=self._config.quota_window_seconds
                    ) from exc
                token = self._current_token
                if attempt == 2 or token is None or status != 401:
                    raise
                await self.keeper.rejected(token)
                continue
            assert response is not None  # missing_ok is not set
            return json_body(response, CHANNEL, f"{method} {path}")
        raise AssertionError("unreachable")  # pragma: no cover

    async def form(self, method: str, path: str, fields: Mapping[str, str]) -> Any:
        """A form call (subscriptions take their ``url`` so, §2.5)."""
        response = await self._http.send(
            method,
            path,
            content=urlencode(fields).encode(),
            content_type=oauth.FORM,
            headers={"accept": "application/json"},
        )
        assert response is not None  # missing_ok is not set
        return json_body(response, CHANNEL, f"{method} {path}")

    async def pages(self, path: str, params: Mapping[str, str]) -> list[dict[str, Any]]:
        """Every ``data`` item of a paged listing (``size`` and ``page``, §2.3)."""
        size = self._config.page_size
        found: list[dict[str, Any]] = []
        first = self._config.first_page
        for page in range(first, first + MAX_PAGES):
            answer = await self.call(
                "GET", path, params={**params, "size": str(size), "page": str(page)}
            )
            items = answer.get("data") if isinstance(answer, dict) else None
            if not isinstance(items, list):
                raise ChannelUnavailableError(f"{CHANNEL} GET {path} answered without data")
            found.extend(item for item in items if isinstance(item, dict))
            if len(items) < size or _is_last(answer.get("page"), page, first):
                return found
        raise ChannelUnavailableError(f"{CHANNEL} GET {path} did not end after {MAX_PAGES} pages")

    async def accommodations(self) -> Sequence[dict[str, Any]]:
        """The accommodations the hotel's token sees (not charged to any accommodation)."""
        answer = await self.call("GET", "/rest/v1/accommodation")
        if not isinstance(answer, list):
            raise ChannelUnavailableError(f"{CHANNEL} listed accommodations in an unknown shape")
        return [item for item in answer if isinstance(item, dict)]


def _is_last(block: Any, page: int, first: int) -> bool:
    """Whether the answer's ``page`` block says no page follows this one."""
    if not isinstance(block, dict):
        return False
    total = block.get("totalPages")
    return isinstance(total, int) and page - first + 1 >= total

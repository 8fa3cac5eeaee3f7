"""HTTP to Beds24 API V2 over the channel kit's ``ChannelHttp`` (beds24.md §2.2-§2.7).

Every call carries the access token in the ``token`` header (§2.2). The token comes from a
:class:`TokenKeeper`: obtained from the refresh token (or, the first time, from the invite
code), reused until two minutes before ``expiresIn`` runs out, refreshed once at a time per
connection. A 401 refreshes and retries once. Before each call the account's credit meter
(§2.3) is consulted; after it, the meter headers are recorded, a 429 included.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field

from innsync.channels.beds24.config import Beds24Config
from innsync.channels.beds24.credits import CreditMeter, read_headers
from innsync.channels.credentials import Credential, CredentialStore, TokenKeeper
from innsync.channels.errors import (
    ChannelAuthError,
    ChannelRejectedError,
    ChannelThrottledError,
    ChannelUnavailableError,
)
from innsync.channels.http import (
    ChannelHttp,
    WallClock,
    encode_json,
    parse_answer,
    refuse_oversized,
)

CHANNEL = "Beds24"
ACCESS = "access"
# §2.3: "about 1 MB per POST payload" and "at most 10,000 top-level array items".
MAX_POST_BYTES = 1_000_000
MAX_POST_ITEMS = 10_000
# §2.4 [3P]: GET pages hold 100 items; a guard against a server whose pages never end.
MAX_PAGES = 200
# §2.3: a 429 sends no Retry-After; without the reset header the whole window is waited.
WINDOW_SECONDS = 300.0
SECRET_HEADERS = frozenset({"code", "token", "refreshtoken"})


class TokenAnswer(BaseModel):
    """§2.2: ``{"token", "expiresIn"}`` (schema ``token``), plus ``refreshToken`` at set-up."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    token: str = Field(min_length=1)
    expires_in: int | None = Field(default=None, alias="expiresIn")
    refresh_token: str | None = Field(default=None, alias="refreshToken")


class PostItemError(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    action: str | None = None
    field: str | None = None
    message: str | None = None


class PostItemAnswer(BaseModel):
    """§2.4: one ``multiplePostResponse`` item, in the order of the request's items."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    success: bool
    new: dict[str, Any] | None = None
    modified: dict[str, Any] | None = None
    errors: list[PostItemError] = Field(default_factory=list)
    warnings: list[PostItemError] = Field(default_factory=list)

    def reason(self) -> str:
        found = [
            f"{error.field}: {error.message}" if error.field else str(error.message)
            for error in self.errors
        ]
        return "; ".join(found) or "refused without a reason"


class Pages(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    next_page_exists: bool = Field(default=False, alias="nextPageExists")


class ListAnswer(BaseModel):
    """§2.4: ``{"success", "type", "count", "pages", "data"}``."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    success: bool = True
    pages: Pages | None = None
    data: list[dict[str, Any]] = Field(default_factory=list)


def describe(response: httpx.Response) -> str:
    """§2.2: the ``error`` of ``{"success": false, "type": "error", "code", "error"}``."""
    try:
        payload = response.json()
    except (ValueError, RecursionError):
        return response.reason_phrase or ""
    if isinstance(payload, dict) and isinstance(payload.get("error"), str):
        return str(payload["error"])[:200]
    return response.reason_phrase or ""


class Beds24Client:
    """The calls innsync makes to one Beds24 property, over an injected ``httpx.AsyncClient``."""

    def __init__(
        self,
        config: Beds24Config,
        http: httpx.AsyncClient,
        *,
        credentials: CredentialStore,
        meter: CreditMeter,
        now: WallClock,
    ) -> None:
        self._config = config
        self._now = now
        self.meter = meter
        self._last_refused = False
        self._last_status: int | None = None
        headers = {} if config.organization is None else {"organization": config.organization}
        self._http = ChannelHttp(
            http=http,
            channel=CHANNEL,
            base_url=config.base_url,
            timeout=httpx.Timeout(config.timeout_seconds, connect=config.connect_timeout_seconds),
            auth_headers=self._auth_headers,
            describe=describe,
            rate_limit_pause=WINDOW_SECONDS,
            now=now,
            secret_names=SECRET_HEADERS,
            default_headers=headers,
            on_response=self._observe,
        )
        self.keeper = TokenKeeper(credentials, ACCESS, self._obtain, now=now)
        self._current_token: str | None = None

    # Tokens (§2.2).

    async def _auth_headers(self) -> Mapping[str, str]:
        self._current_token = await self.keeper.token()
        return {"token": self._current_token}

    async def _obtain(self, current: Credential | None) -> Credential:
        """A new access token: from the stored refresh token, the configured one, or set-up."""
        refresh = current.refresh_token if current is not None else None
        if refresh is None and self._config.refresh_token is not None:
            refresh = self._config.refresh_token.get_secret_value()
        if refresh is None:
            return await self._set_up()
        answer = await self._token_call(
            "/authentication/token", {"refreshToken": refresh}, "the refresh token"
        )
        return self._credential(answer, refresh)

    async def _set_up(self) -> Credential:
        if self._config.invite_code is None:  # the config validator makes this unreachable
            raise ChannelAuthError("the Beds24 connection has neither a refresh token nor a code")
        headers = {
            "code": self._config.invite_code.get_secret_value(),
            "deviceName": self._config.device_name,
        }
        answer = await self._token_call("/authentication/setup", headers, "the invite code")
        if answer.refresh_token is None:
            raise ChannelUnavailableError("Beds24 set-up answered without a refresh token")
        return self._credential(answer, answer.refresh_token)

    async def _token_call(self, path: str, headers: Mapping[str, str], what: str) -> TokenAnswer:
        await self._wait_for_credits(f"GET {path}")
        try:
            response = await self._http.send(
                "GET", path, headers={**headers, "accept": "application/json"}, authenticated=False
            )
        except (ChannelRejectedError, ChannelAuthError) as exc:
            # §2.2: a refused code or refresh token needs a person: a new invite code.
            raise ChannelAuthError(
                f"Beds24 refused {what}; create a new invite code in SETTINGS > MARKETPLACE > "
                f"API and set it on the connection ({exc})"
            ) from exc
        except ChannelUnavailableError as exc:
            raise self._rate_limited(exc) from exc
        assert response is not None  # missing_ok is not set
        return parse_answer(TokenAnswer, _json(response), CHANNEL, f"GET {path}")

    def _credential(self, answer: TokenAnswer, refresh: str) -> Credential:
        # §2.2: lifetimes conflict (24 h in the wiki, 3600 in the YAML); expiresIn is trusted.
        lifetime = answer.expires_in if answer.expires_in is not None else 3600
        return Credential(
            token=answer.token,
            expires_at=self._now() + timedelta(seconds=lifetime),
            refresh_token=refresh,
        )

    # Credits (§2.3).

    def _observe(self, response: httpx.Response) -> None:
        refused = response.status_code == 429
        self._last_refused = refused
        self._last_status = response.status_code
        self.meter.record(read_headers(response.headers), self._now(), refused=refused)

    async def _wait_for_credits(self, what: str) -> None:
        wait = self.meter.wait_seconds(self._now(), self._config.min_credits)
        if wait is not None:
            raise ChannelThrottledError(
                f"{CHANNEL} {what} not sent: the account's credits are spent until the "
                f"window resets",
                retry_after=wait,
            )

    def _rate_limited(self, exc: ChannelUnavailableError) -> ChannelUnavailableError:
        if not self._last_refused:
            return exc
        self._last_refused = False
        wait = self.meter.wait_seconds(self._now(), float("inf"))
        return ChannelThrottledError(str(exc), retry_after=WINDOW_SECONDS if wait is None else wait)

    # Calls.

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: Sequence[tuple[str, str]] | None = None,
        body: Any = None,
    ) -> Any:
        """One authenticated JSON call; a 401 refreshes the token and retries once."""
        content = None if body is None else encode_json(body)
        if content is not None:
            refuse_oversized(content, MAX_POST_BYTES, CHANNEL)
        for attempt in (1, 2):
            await self._wait_for_credits(f"{method} {path}")
            try:
                response = await self._http.send(
                    method,
                    path,
                    params=httpx.QueryParams(list(params or ())),
                    content=content,
                    content_type=None if content is None else "application/json",
                    headers={"accept": "application/json"},
                )
            except ChannelAuthError:
                token = self._current_token
                # A 401 is the token (expired or revoked early); a 403 is the scopes, which a
                # new token would not change.
                if attempt == 2 or token is None or self._last_status != 401:
                    raise
                await self.keeper.rejected(token)
                continue
            except ChannelUnavailableError as exc:
                raise self._rate_limited(exc) from exc
            assert response is not None
            return _json(response)
        raise AssertionError("unreachable")  # pragma: no cover

    async def post_items(
        self, path: str, items: Sequence[Mapping[str, Any]]
    ) -> list[PostItemAnswer]:
        """§2.4: a JSON array in, one answer per item in the same order."""
        if len(items) > MAX_POST_ITEMS:
            raise ChannelRejectedError(f"{CHANNEL} takes at most {MAX_POST_ITEMS} items per POST")
        answer = await self.call("POST", path, body=list(items))
        if not isinstance(answer, list) or len(answer) != len(items):
            raise ChannelUnavailableError(
                f"{CHANNEL} POST {path} answered {len(answer) if isinstance(answer, list) else 0}"
                f" results for {len(items)} items"
            )
        return [parse_answer(PostItemAnswer, item, CHANNEL, f"POST {path}") for item in answer]

    async def get_all(self, path: str, params: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
        """Every ``data`` item of a paged GET (§2.4: ``?page=N`` while ``nextPageExists``)."""
        found: list[dict[str, Any]] = []
        for page in range(1, MAX_PAGES + 1):
            listed = await self.get_page(path, params, page)
            found.extend(listed.data)
            if listed.pages is None or not listed.pages.next_page_exists:
                return found
        raise ChannelUnavailableError(f"{CHANNEL} GET {path} did not end after {MAX_PAGES} pages")

    async def get_page(self, path: str, params: Sequence[tuple[str, str]], page: int) -> ListAnswer:
        paged = [*params, ("page", str(page))] if page > 1 else list(params)
        listed = parse_answer(ListAnswer, await self.call("GET", path, params=paged), CHANNEL)
        if not listed.success:
            raise ChannelRejectedError(f"{CHANNEL} GET {path} answered success false")
        return listed


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (ValueError, RecursionError) as exc:
        raise ChannelUnavailableError(
            f"{CHANNEL} answered {response.status_code} with no JSON"
        ) from exc

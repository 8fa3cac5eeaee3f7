"""HTTP to Booking.com through the kit: the token exchange, ARI posts, reservation pulls and acks.

Paths and statuses are §3.1's. Every answer is parsed with the hardened parser of
``innsync.xmlkit``; refusals are described from the OTA ``<Errors>`` of the body when it has
them, and a 401 spends the token once more before it is given up as an auth error.
"""

from __future__ import annotations

import httpx

from innsync.channels.booking_com.config import BookingComConfig
from innsync.channels.booking_com.tokens import (
    ACCESS,
    BUDGET_WINDOW,
    EXCHANGES,
    account_key,
    credential_from_answer,
    token_key,
)
from innsync.channels.credentials import (
    LOCAL_ACCOUNT_CREDENTIALS,
    AccountCredentials,
    Credential,
    TokenKeeper,
)
from innsync.channels.errors import (
    ChannelAuthError,
    ChannelRejectedError,
    ChannelUnavailableError,
)
from innsync.channels.http import ChannelHttp, WallClock, utc_now
from innsync.xmlkit.parsing import Element, XmlRefusedError, local_name, parse_xml, text_of

CHANNEL = "booking_com"
AVAIL_PATH = "/hotels/ota/OTA_HotelAvailNotif"
RATE_AMOUNT_PATH = "/hotels/ota/OTA_HotelRateAmountNotif"
NEW_RESERVATIONS_PATH = "/hotels/ota/OTA_HotelResNotif"
MODIFIED_RESERVATIONS_PATH = "/hotels/ota/OTA_HotelResModifyNotif"
XML_CONTENT_TYPE = "text/xml; charset=utf-8"
# §3.1 publishes no rate limit nor a Retry-After; a 429 waits out the one-minute window the
# adapter's limits declare.
RATE_LIMIT_PAUSE = 60.0


class ResponseTokenMismatchError(ChannelRejectedError):
    """§3.1 409: the acknowledgement's response token is not the current one; pull again."""


def describe(response: httpx.Response) -> str:
    """The OTA ``<Error>`` texts of a refusal, else the first line of the body: §3.1 documents
    plain-text refusals ("Access denied for hotel"). ``channels.http`` cuts it to one line of
    200 characters, and the hosts are Booking.com's own (``CHANNEL_KIND.endpoints``)."""
    try:
        root = parse_xml(response.content, max_bytes=256 * 1024)
    except XmlRefusedError:
        first_line = response.text.strip().splitlines()[0][:200] if response.text.strip() else ""
        return first_line or response.reason_phrase
    texts = [
        " ".join(
            part for part in (error.get("ShortText") or error.get("Code"), text_of(error)) if part
        )
        for error in root.iter()
        if isinstance(error.tag, str) and local_name(error) == "Error"
    ]
    return "; ".join(texts)[:500] or local_name(root)


class BookingComClient:
    """One connection's calls to Booking.com; every XML answer comes back as its root element."""

    def __init__(
        self,
        config: BookingComConfig,
        http: httpx.AsyncClient,
        *,
        accounts: AccountCredentials = LOCAL_ACCOUNT_CREDENTIALS,
        now: WallClock = utc_now,
    ) -> None:
        self.config = config
        self._now = now
        # §3.1: token and cap are the machine account's, not this hotel's (see tokens.py).
        self._exchanges = accounts(account_key(config))
        self.keeper = TokenKeeper(accounts(token_key(config)), ACCESS, self._obtain, now=now)
        timeout = httpx.Timeout(config.timeout_seconds, connect=config.connect_timeout_seconds)
        self._auth = ChannelHttp(
            http,
            channel=CHANNEL,
            base_url=config.auth_url,
            timeout=timeout,
            now=now,
            rate_limit_pause=RATE_LIMIT_PAUSE,
        )
        self._supply = self._channel_http(http, config.supply_url, timeout)
        self._secure = self._channel_http(http, config.reservations_url, timeout)
        self._token: str | None = None

    def _channel_http(
        self, http: httpx.AsyncClient, base_url: str, timeout: httpx.Timeout
    ) -> ChannelHttp:
        return ChannelHttp(
            http,
            channel=CHANNEL,
            base_url=base_url,
            timeout=timeout,
            auth_headers=self._bearer,
            describe=describe,
            now=self._now,
            rate_limit_pause=RATE_LIMIT_PAUSE,
            # §3.1: the ARI endpoints take `Accept-Version: 1.1`.
            default_headers={"Accept-Version": "1.1"},
        )

    async def _obtain(self, current: Credential | None) -> Credential:
        # Runs under the account token's lease, so one connection of the machine account
        # exchanges while the others wait for its token; counted first, so the cap holds even
        # when the exchange fails.
        del current
        asked_at = self._now()
        await self._exchanges.spend(EXCHANGES, self.config.tokens_per_hour, BUDGET_WINDOW, asked_at)
        try:
            answer = await self._auth.json(
                "POST",
                "",
                body={
                    "client_id": self.config.client_id,
                    "client_secret": self.config.client_secret.get_secret_value(),
                },
                authenticated=False,
            )
        except ChannelAuthError:
            # Refused credentials get no token and spend none of the account's cap: a
            # connection naming the client id with a wrong secret cannot use it up.
            await self._exchanges.refund(EXCHANGES, asked_at)
            raise
        return credential_from_answer(answer, self._now())

    async def _bearer(self) -> dict[str, str]:
        self._token = await self.keeper.token()
        return {"authorization": f"Bearer {self._token}"}

    async def _xml(
        self,
        http: ChannelHttp,
        method: str,
        path: str,
        content: bytes | None = None,
        params: dict[str, str] | None = None,
    ) -> Element:
        for attempt in (1, 2):
            try:
                response = await http.send(
                    method,
                    path,
                    params=params,
                    content=content,
                    content_type=None if content is None else XML_CONTENT_TYPE,
                    headers={"accept": "application/xml, text/xml"},
                )
            except ChannelAuthError as exc:
                # §3.1: a refused token is 401; renew it once (it may have been revoked). A 403
                # is the hotel's access, which a new token does not change.
                if attempt == 1 and " answered 401" in str(exc) and self._token is not None:
                    await self.keeper.rejected(self._token)
                    continue
                raise
            except ChannelRejectedError as exc:
                if " answered 409" in str(exc):
                    raise ResponseTokenMismatchError(str(exc)) from exc
                raise
            assert response is not None  # missing_ok is never set
            try:
                return parse_xml(response.content)
            except XmlRefusedError as exc:
                # The call may have been applied; a retry sends the same values, harmlessly.
                raise ChannelUnavailableError(
                    f"{CHANNEL} {method} {path} answered unreadable XML: {exc}"
                ) from exc
        raise ChannelAuthError(f"{CHANNEL} {method} {path}: the renewed token was refused too")

    async def avail_notif(self, body: bytes) -> Element:
        return await self._xml(self._supply, "POST", AVAIL_PATH, body)

    async def rate_amount_notif(self, body: bytes) -> Element:
        return await self._xml(self._supply, "POST", RATE_AMOUNT_PATH, body)

    def _hotel_params(self) -> dict[str, str] | None:
        name = self.config.hotel_filter_param
        return None if name is None else {name: self.config.hotel_id}

    async def pull(self, path: str) -> Element:
        return await self._xml(self._secure, "GET", path, params=self._hotel_params())

    async def acknowledge(self, path: str, body: bytes) -> Element:
        return await self._xml(self._secure, "POST", path, body)


__all__ = ["BookingComClient", "ResponseTokenMismatchError"]

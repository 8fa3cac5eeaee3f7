"""HTTP to Expedia QuickConnect through the kit: AR, BR, BC and PARR posts of XML bodies.

EQC answers refusals it words itself with HTTP 200 and an ``<Error code>`` body (§3.2); the
kit turns every other status, time-out and transport failure into its errors. The credentials
travel inside each body (§3.2 Auth), and the kit never logs a body, so they stay out of logs.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from innsync.channels.errors import (
    ChannelAuthError,
    ChannelRejectedError,
    ChannelUnavailableError,
)
from innsync.channels.expedia.config import ExpediaConfig
from innsync.channels.http import ChannelHttp, WallClock, utc_now
from innsync.xmlkit.parsing import (
    Element,
    XmlRefusedError,
    children,
    first,
    local_name,
    parse_xml,
)

CHANNEL = "expedia"
XML_CONTENT_TYPE = "text/xml; charset=utf-8"
# §3.2: no rate limit is published; a 429 (a proxy's) waits a minute.
RATE_LIMIT_PAUSE = 60.0
# §3.2 "Retry": codes of 4000 and above are EQC's own trouble (maintenance, network).
FIRST_TRANSIENT_CODE = 4000
# [UNCONFIRMED] EQC's authentication failures are the 1000s (the simulator answers 1001).
AUTH_CODES = range(1000, 2000)


@dataclass(frozen=True, slots=True)
class Answer:
    """What an EQC RS says: success, or errors, and the warnings beside a success."""

    errors: tuple[tuple[int, str], ...]
    warnings: tuple[tuple[int, str], ...]

    @property
    def is_success(self) -> bool:
        return not self.errors

    def reason(self) -> str:
        return "; ".join(f"EQC error {code}: {text}" for code, text in self.errors)


def _code(element: Element) -> int:
    try:
        return int(element.get("code") or "0")
    except ValueError:
        return 0


def read_answer(root: Element) -> Answer:
    """The errors and warnings of any EQC RS (AR, BR or BC)."""
    errors = tuple((_code(e), (e.text or "").strip()) for e in root.iter() if _named(e, "Error"))
    success = first(root, "Success")
    warnings = tuple(
        (_code(w), (w.text or "").strip())
        for w in (children(success, "Warning") if success is not None else ())
    )
    return Answer(errors, warnings)


def _named(element: Element, name: str) -> bool:
    return isinstance(element.tag, str) and local_name(element) == name


def raise_for_answer(answer: Answer, what: str) -> None:
    """A refused BR or BC as the error that drives what innsync does next."""
    if answer.is_success:
        return
    codes = [code for code, _ in answer.errors]
    message = f"{CHANNEL} {what}: {answer.reason()}"
    if any(code in AUTH_CODES for code in codes):
        raise ChannelAuthError(message)
    if any(code >= FIRST_TRANSIENT_CODE for code in codes):
        raise ChannelUnavailableError(message)
    raise ChannelRejectedError(message)


class ExpediaClient:
    """One connection's posts to EQC; every answer comes back as its parsed root."""

    def __init__(
        self, config: ExpediaConfig, http: httpx.AsyncClient, *, now: WallClock = utc_now
    ) -> None:
        timeout = httpx.Timeout(config.timeout_seconds, connect=config.connect_timeout_seconds)
        self._http = ChannelHttp(
            http,
            channel=CHANNEL,
            base_url="",
            timeout=timeout,
            now=now,
            rate_limit_pause=RATE_LIMIT_PAUSE,
        )
        self.config = config

    async def _post(self, url: str, body: bytes) -> Element:
        response = await self._http.send(
            "POST",
            url,
            content=body,
            content_type=XML_CONTENT_TYPE,
            headers={"accept": "text/xml, application/xml"},
        )
        assert response is not None  # missing_ok is never set
        try:
            return parse_xml(response.content)
        except XmlRefusedError as exc:
            # An AR may have been applied; a retry sends the same values, harmlessly.
            raise ChannelUnavailableError(f"{CHANNEL} POST answered unreadable XML: {exc}") from exc

    async def ar(self, body: bytes) -> Answer:
        """AR: the answer is returned, refused or not (its entries are refused, not raised)."""
        answer = read_answer(await self._post(self.config.ar_url, body))
        codes = [code for code, _ in answer.errors]
        if any(code in AUTH_CODES for code in codes):
            raise ChannelAuthError(f"{CHANNEL} AR: {answer.reason()}")
        if any(code >= FIRST_TRANSIENT_CODE for code in codes):
            raise ChannelUnavailableError(f"{CHANNEL} AR: {answer.reason()}")
        return answer

    async def br(self, body: bytes) -> Element:
        root = await self._post(self.config.br_url, body)
        raise_for_answer(read_answer(root), "BR")
        return root

    async def parr(self, body: bytes) -> Element:
        root = await self._post(self.config.parr_url, body)
        raise_for_answer(read_answer(root), "PARR")
        return root

    async def bc(self, body: bytes) -> Answer:
        answer = read_answer(await self._post(self.config.bc_url, body))
        raise_for_answer(answer, "BC")
        return answer

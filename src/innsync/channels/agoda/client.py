"""HTTP to Agoda's YCS supply API through the kit: one endpoint, the operation in ``type``.

§3.3: every call is ``POST {base}/api?apiKey=KEY`` with a ``<request timestamp type>`` body; the
answer is a ``<result>``. Answers are parsed with the hardened parser of ``innsync.xmlkit``; a
refusal is described from the ``<errors>`` of the body when it has them.
"""

from __future__ import annotations

import httpx

from innsync.channels.agoda.config import AgodaConfig
from innsync.channels.errors import ChannelAuthError, ChannelRejectedError, ChannelUnavailableError
from innsync.channels.http import ChannelHttp, WallClock, refuse_oversized, utc_now
from innsync.xmlkit.parsing import Element, XmlRefusedError, attribute, local_name, parse_xml

CHANNEL = "agoda"
XML_CONTENT_TYPE = "application/xml; charset=utf-8"
# §3.3 states no rate limit nor a Retry-After; a 429 waits out the adapter's one-minute window.
RATE_LIMIT_PAUSE = 60.0
# [INFERRED] YCS error codes that mean the key or the property's access, answered with 200.
AUTH_ERROR_CODES = frozenset({"1001", "1002"})


def describe(response: httpx.Response) -> str:
    """The ``<error>`` descriptions of a refusal, else the first line of the body."""
    try:
        root = parse_xml(response.content, max_bytes=256 * 1024)
    except XmlRefusedError:
        text = response.text.strip()
        return text.splitlines()[0][:200] if text else response.reason_phrase
    found = [
        f"{attribute(error, 'code') or '?'}: {attribute(error, 'description') or ''}".strip()
        for error in root.iter()
        if isinstance(error.tag, str) and local_name(error) == "error"
    ]
    return "; ".join(found)[:500] or local_name(root)


class AgodaClient:
    """One connection's calls to Agoda; every answer comes back as its ``<result>`` element."""

    def __init__(
        self, config: AgodaConfig, http: httpx.AsyncClient, *, now: WallClock = utc_now
    ) -> None:
        self.config = config
        self._http = ChannelHttp(
            http,
            channel=CHANNEL,
            base_url=config.base_url,
            timeout=httpx.Timeout(config.timeout_seconds, connect=config.connect_timeout_seconds),
            describe=describe,
            now=now,
            rate_limit_pause=RATE_LIMIT_PAUSE,
            # §3.3: the key travels in the query string; masked in the request log by its name.
            secret_names=frozenset({"apikey"}),
        )

    async def call(self, body: bytes) -> Element:
        """POST one ``<request>``; refusals of the whole call raise, warnings are the caller's."""
        refuse_oversized(body, self.config.max_request_bytes, CHANNEL)
        response = await self._http.send(
            "POST",
            self.config.api_path,
            params={"apiKey": self.config.api_key.get_secret_value()},
            content=body,
            content_type=XML_CONTENT_TYPE,
            headers={"accept": "application/xml, text/xml"},
        )
        assert response is not None  # missing_ok is never set
        try:
            root = parse_xml(response.content)
        except XmlRefusedError as exc:
            # The call may have been applied; a retry sends the same values, harmlessly.
            raise ChannelUnavailableError(f"{CHANNEL} answered unreadable XML: {exc}") from exc
        if local_name(root) != "result":
            raise ChannelUnavailableError(f"{CHANNEL} answered <{local_name(root)}>, not <result>")
        codes = {
            attribute(error, "code")
            for error in root.iter()
            if isinstance(error.tag, str) and local_name(error) == "error"
        }
        if codes & AUTH_ERROR_CODES:
            raise ChannelAuthError(
                f"{CHANNEL} refused the API key or property: {describe(response)}"
            )
        return root

    async def read(self, body: bytes) -> Element:
        """A read (list, detail): any ``<errors>`` refuse it whole."""
        root = await self.call(body)
        if any(local_name(element) == "errors" for element in root if isinstance(element.tag, str)):
            detail = "; ".join(
                f"{attribute(error, 'code')}: {attribute(error, 'description')}"
                for error in root.iter()
                if isinstance(error.tag, str) and local_name(error) == "error"
            )
            raise ChannelRejectedError(f"{CHANNEL} refused the request: {detail}")
        return root


__all__ = ["AgodaClient", "describe"]

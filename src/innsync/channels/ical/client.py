"""Reading a platform's feed: a conditional GET, bounded in size.

The feed URL is the tenant's: the client it is read with is the caller's guarded one
(``innsync.outbound``), which refuses addresses the operator's policy does not allow at every
connect; such a refusal is a broken feed (a person must fix the URL), not an outage."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

import httpx

from innsync.channels.errors import ChannelRejectedError, ChannelUnavailableError
from innsync.channels.http import error_for_status
from innsync.outbound import refusal_in

logger = logging.getLogger(__name__)
CHANNEL = "ical"


class FeedBrokenError(ChannelRejectedError):
    """The feed answered, but not with a calendar we can trust (404, HTML, malformed, held).

    A person must look: the reconciler reports it as needs-attention at once (see
    ``inbox.reconciler``) and nothing is cancelled."""

    needs_attention_now = True


class FeedStaleError(ChannelUnavailableError):
    """The feed has not been read successfully for the config's ``stale_after_seconds``.

    Raised once per stale spell (the adapter remembers it told), so the reconciler reports it
    each time it sees it; reading goes on with backoff like any outage."""

    needs_attention_now = True
    attention_once = True


@dataclass(frozen=True, slots=True)
class FeedAnswer:
    status: int
    body: bytes | None
    """``None`` for a 304: unchanged since ``etag`` / ``last_modified``."""
    etag: str | None
    last_modified: str | None


async def fetch_feed(
    http: httpx.AsyncClient,
    url: str,
    *,
    etag: str | None,
    last_modified: str | None,
    timeout: float,
    max_bytes: int,
    now: datetime,
) -> FeedAnswer:
    """GET the feed with ``If-None-Match`` / ``If-Modified-Since``; the body is read in chunks
    and refused past ``max_bytes`` (a huge feed never fills memory)."""
    headers = {"accept": "text/calendar, */*;q=0.5", "user-agent": "innsync-ical/1"}
    if etag:
        headers["if-none-match"] = etag
    if last_modified:
        headers["if-modified-since"] = last_modified
    started = time.monotonic()
    path = urlsplit(url).path  # logged without the query, which often holds the secret
    try:
        async with http.stream("GET", url, headers=headers, timeout=timeout) as response:
            if response.status_code == 304:
                return FeedAnswer(304, None, etag, last_modified)
            if response.status_code in (404, 410):
                raise FeedBrokenError(
                    f"the ical feed answered {response.status_code}: the listing's export URL "
                    "is gone or wrong"
                )
            if not response.is_success:
                await response.aread()
                raise error_for_status(CHANNEL, "GET", path, response, now)
            chunks, size = [], 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise FeedBrokenError(f"the ical feed is larger than {max_bytes} bytes")
                chunks.append(chunk)
            return FeedAnswer(
                response.status_code,
                b"".join(chunks),
                response.headers.get("etag"),
                response.headers.get("last-modified"),
            )
    except httpx.TimeoutException as exc:
        raise ChannelUnavailableError("the ical feed timed out") from exc
    except httpx.TransportError as exc:
        refused = refusal_in(exc)
        if refused is not None:
            raise FeedBrokenError(f"the ical feed URL is refused: {refused}") from exc
        raise ChannelUnavailableError(f"the ical feed failed: {type(exc).__name__}") from exc
    finally:
        logger.info(
            "ical feed read",
            extra={"path": path, "elapsed_ms": round((time.monotonic() - started) * 1000)},
        )

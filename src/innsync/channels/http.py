"""The HTTP every adapter's ``client.py`` shares: a call in, a parsed body or a channel error out.

A client builds one :class:`ChannelHttp` per connection and keeps only what is specific to its
channel: paths, payload shapes and how the vendor words its errors (an :data:`ErrorDescriber`).
Here live the parts that used to be copied into each client:

- status → error translation (:func:`error_for_status`): 401/403 need new credentials, 408, 429,
  5xx and transport failures are worth retrying later (with the ``Retry-After`` hint, seconds or
  HTTP date), every other refusal (400, 404, 409, 422…) is final;
- JSON and XML bodies (:func:`json_body`, :func:`xml_body`), a malformed success body being a
  retryable failure since the call may or may not have been applied;
- paging (:func:`collect_pages`) with a guard against a server that never stops;
- request logging with every secret masked (:func:`masked_headers`, :func:`masked_params`).

Messages name the channel, the method, the path and the vendor's reasons, never a header value.
They reach the tenant (a connection test's 502, the sync log), so a remote's words in them are
cut to one line of :data:`innsync.outbound.REMOTE_TEXT_LIMIT` characters, and a body the vendor
did not structure (plain text, HTML) is not quoted unless the channel's describer documents it
as the vendor's error form (Booking.com's plain-text 403): an answer from whatever a URL
reached must not be read back through innsync's errors.
"""

from __future__ import annotations

import json
import logging
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, Generic, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from innsync.channels.errors import (
    ChannelAuthError,
    ChannelError,
    ChannelRejectedError,
    ChannelThrottledError,
    ChannelTimedOutError,
    ChannelUnavailableError,
)
from innsync.clock import Clock as WallClock
from innsync.clock import utc_now
from innsync.outbound import refusal_in, remote_text

logger = logging.getLogger(__name__)

__all__ = ["WallClock", "utc_now"]  # the one clock type, re-exported for adapters

ErrorDescriber = Callable[[httpx.Response], str]
"""The vendor's own account of a refusal (code, title, reasons) from an error response."""
ModelT = TypeVar("ModelT", bound=BaseModel)
ItemT = TypeVar("ItemT")

MASK = "***"
# Header and parameter names whose values are credentials, whatever the channel; matched as
# case-insensitive substrings ("user-api-key", "X-Api-Key", "access_token", "Authorization").
SECRET_NAME_PARTS = ("authorization", "key", "token", "secret", "password", "signature", "cookie")
# Statuses that mean "the server is busy or broken, not your request": retry later.
RETRYABLE_STATUSES = frozenset({408, 425, 429})
# A Retry-After further out than a day is a misconfigured server, not a plan; it is capped so a
# connection is never parked for weeks by one header.
MAX_RETRY_AFTER_SECONDS = 86_400.0


def is_secret_name(name: str, extra: Collection[str] = ()) -> bool:
    """Whether a header or parameter named ``name`` carries a credential."""
    lowered = name.lower()
    return lowered in {item.lower() for item in extra} or any(
        part in lowered for part in SECRET_NAME_PARTS
    )


def masked_headers(headers: Mapping[str, str], extra: Collection[str] = ()) -> dict[str, str]:
    """A copy of ``headers`` safe to log: every credential's value replaced by ``***``."""
    return {name: MASK if is_secret_name(name, extra) else value for name, value in headers.items()}


def masked_params(params: Mapping[str, str] | None, extra: Collection[str] = ()) -> dict[str, str]:
    """Query parameters safe to log (some channels take keys and tokens in the query)."""
    return masked_headers(params or {}, extra)


def retry_after_seconds(headers: Mapping[str, str], now: datetime) -> float | None:
    """The ``Retry-After`` header (RFC 9110 §10.2.3) as seconds from ``now``, or ``None``.

    Delta-seconds and HTTP dates are both read; a date in the past means "now" (0 s); anything
    unreadable is ignored rather than trusted.
    """
    raw = headers.get("retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    if raw.isdigit():
        return min(float(raw), MAX_RETRY_AFTER_SECONDS)
    try:
        moment = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        return None
    return min(max((moment - now).total_seconds(), 0.0), MAX_RETRY_AFTER_SECONDS)


def error_for_status(
    channel: str,
    method: str,
    path: str,
    response: httpx.Response,
    now: datetime,
    *,
    describe: ErrorDescriber | None = None,
    rate_limit_pause: float | None = None,
) -> ChannelError:
    """The channel error a non-success ``response`` stands for.

    ``rate_limit_pause`` is the hint used for a 429 without ``Retry-After`` (many channels send
    none but document how long their window is).
    """
    status = response.status_code
    reason = remote_text(describe(response) if describe is not None else _plain_reason(response))
    message = f"{channel} {method} {path} answered {status} {reason}".rstrip()
    if status in (401, 403):
        return ChannelAuthError(message)
    hint = retry_after_seconds(response.headers, now)
    if status == 429:
        return ChannelThrottledError(
            message, retry_after=rate_limit_pause if hint is None else hint
        )
    if status >= 500 or status in RETRYABLE_STATUSES:
        return ChannelUnavailableError(message, retry_after=hint)
    return ChannelRejectedError(message)


def _plain_reason(response: httpx.Response) -> str:
    """The reason phrase alone: a body without the vendor's error structure is not quoted."""
    return response.reason_phrase or ""


def json_body(response: httpx.Response, channel: str, what: str) -> Any:
    """The JSON of a successful answer; a body that is not JSON is worth a retry."""
    try:
        return response.json()
    except (ValueError, RecursionError) as exc:
        # The call may have been applied; a retry sends the same values again, harmlessly.
        raise ChannelUnavailableError(
            f"{channel} {what} answered {response.status_code} with no JSON"
        ) from exc


def xml_body(content: bytes, channel: str, what: str) -> ElementTree.Element:
    """The root element of an XML answer (OTA, EQC and YCS channels).

    A document type declaration is refused before parsing: no channel in scope sends one, and
    refusing it shuts out entity expansion and external entities whatever the parser does.
    """
    if b"<!DOCTYPE" in content[:4096].upper() or b"<!ENTITY" in content.upper():
        raise ChannelRejectedError(f"{channel} {what} answered XML with a DOCTYPE; refused")
    try:
        return ElementTree.fromstring(content)  # noqa: S314 - no DTD can reach the parser
    except ElementTree.ParseError as exc:
        raise ChannelUnavailableError(f"{channel} {what} answered malformed XML") from exc


def parse_answer(model: type[ModelT], payload: Any, channel: str, what: str = "answer") -> ModelT:
    """``payload`` validated as ``model``; a shape the client did not expect is retryable.

    The error names the fields that did not fit, never their values (they may be guest data).
    """
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        fields = sorted({".".join(str(part) for part in error["loc"]) for error in exc.errors()})
        raise ChannelUnavailableError(
            f"{channel} sent an unexpected {what} (fields: {', '.join(fields[:5]) or 'body'})"
        ) from exc


def refuse_oversized(body: bytes, limit: int, channel: str) -> None:
    """Refuse a body the channel would refuse whole; sending it would only spend budget."""
    if len(body) > limit:
        raise ChannelRejectedError(
            f"{channel} takes at most {limit} bytes per call; this one has {len(body)}"
        )


@dataclass(frozen=True, slots=True)
class Page(Generic[ItemT]):
    """One page of a listing: its items and, when the channel says, how many there are in all."""

    items: Sequence[ItemT]
    total: int | None = None


async def collect_pages(
    fetch: Callable[[int], Awaitable[Page[ItemT]]],
    *,
    page_size: int,
    max_pages: int,
    what: str,
    first_page: int = 1,
) -> list[ItemT]:
    """Every item of a paginated listing, page after page from ``first_page``.

    A short or empty page is the last one, whatever the total says; reaching the total ends it
    too. ``max_pages`` guards against a server whose total never stops growing.
    """
    found: list[ItemT] = []
    for page_number in range(first_page, first_page + max_pages):
        page = await fetch(page_number)
        found.extend(page.items)
        if len(page.items) < page_size or (page.total is not None and len(found) >= page.total):
            return found
    raise ChannelUnavailableError(f"{what} did not end after {max_pages} pages")


@dataclass
class ChannelHttp:
    """One connection's way to its channel over an injected ``httpx.AsyncClient``.

    ``auth_headers`` is called before every request, so a refreshed token is used as soon as
    it is cached (see ``channels.credentials``). ``secret_names`` adds header or parameter
    names to mask in logs beyond the usual ones.
    """

    http: httpx.AsyncClient
    channel: str
    base_url: str
    timeout: httpx.Timeout
    auth_headers: Callable[[], Awaitable[Mapping[str, str]]] | None = None
    describe: ErrorDescriber | None = None
    rate_limit_pause: float | None = None
    now: WallClock = utc_now
    secret_names: frozenset[str] = field(default_factory=frozenset)
    default_headers: Mapping[str, str] = field(default_factory=dict)
    on_response: Callable[[httpx.Response], None] | None = None
    """Sees every response before its status is judged (e.g. a channel's rate-limit meter
    headers, which a refusal carries too)."""
    late_landing_seconds: float | None = None
    """How long a call given up while the channel had it (a read or write time-out) may still
    take effect; no retry comes sooner, so a retry with newer values is never overwritten by
    the late one. Unset: the read time-out again (a server that took the call finishes it
    within twice the time innsync allows for one)."""

    async def send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        content: bytes | None = None,
        content_type: str | None = None,
        headers: Mapping[str, str] | None = None,
        missing_ok: bool = False,
        authenticated: bool = True,
    ) -> httpx.Response | None:
        """The successful response, ``None`` for a 404 when ``missing_ok``, or a channel error.

        ``authenticated=False`` leaves out ``auth_headers``: the token call itself.
        """
        sent_headers = dict(self.default_headers)
        if self.auth_headers is not None and authenticated:
            sent_headers.update(await self.auth_headers())
        if content_type is not None:
            sent_headers["content-type"] = content_type
        sent_headers.update(headers or {})
        started = time.monotonic()
        try:
            response = await self.http.request(
                method,
                self.base_url + path,
                params=params,
                content=content,
                headers=sent_headers,
                timeout=self.timeout,
            )
        except httpx.TimeoutException as exc:
            self._log(method, path, params, sent_headers, content, None, started)
            late = self._late_landing(exc)
            message = f"{self.channel} {method} {path} timed out"
            if late is None:  # it never reached the channel
                raise ChannelUnavailableError(message) from exc
            raise ChannelTimedOutError(message, retry_after=late) from exc
        except httpx.TransportError as exc:
            self._log(method, path, params, sent_headers, content, None, started)
            refused = refusal_in(exc)
            if refused is not None:
                # Retrying cannot help: the operator's policy refuses the address.
                raise ChannelRejectedError(
                    f"{self.channel} {method} {path} refused: {refused}"
                ) from exc
            raise ChannelUnavailableError(
                f"{self.channel} {method} {path} failed: {type(exc).__name__}"
            ) from exc
        self._log(method, path, params, sent_headers, content, response.status_code, started)
        if self.on_response is not None:
            self.on_response(response)
        if response.is_success:
            return response
        if missing_ok and response.status_code == 404:
            return None
        raise error_for_status(
            self.channel,
            method,
            path,
            response,
            self.now(),
            describe=self.describe,
            rate_limit_pause=self.rate_limit_pause,
        )

    async def json(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        missing_ok: bool = False,
        authenticated: bool = True,
    ) -> Any:
        """A JSON call: ``body`` (when given) sent as compact JSON, the answer's JSON returned."""
        content = None if body is None else encode_json(body)
        return await self.json_bytes(
            method,
            path,
            params=params,
            content=content,
            missing_ok=missing_ok,
            authenticated=authenticated,
        )

    async def json_bytes(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        content: bytes | None = None,
        missing_ok: bool = False,
        authenticated: bool = True,
    ) -> Any:
        """A JSON call whose body is already encoded (when the client measured it first)."""
        response = await self.send(
            method,
            path,
            params=params,
            content=content,
            content_type=None if content is None else "application/json",
            headers={"accept": "application/json"},
            missing_ok=missing_ok,
            authenticated=authenticated,
        )
        if response is None:
            return None
        return json_body(response, self.channel, f"{method} {path}")

    async def xml(
        self,
        method: str,
        path: str,
        *,
        content: bytes,
        params: Mapping[str, str] | None = None,
        content_type: str = "text/xml; charset=utf-8",
    ) -> ElementTree.Element:
        """An XML call (OTA and similar): the document sent, the answer's root returned."""
        response = await self.send(
            method,
            path,
            params=params,
            content=content,
            content_type=content_type,
            headers={"accept": "application/xml, text/xml"},
        )
        if response is None:  # only with missing_ok, which XML calls never set
            raise ChannelRejectedError(f"{self.channel} {method} {path} answered 404")
        return xml_body(response.content, self.channel, f"{method} {path}")

    def _late_landing(self, error: httpx.TimeoutException) -> float | None:
        """The wait before a retry after ``error``: none when the request never reached the
        channel (no connection, no pooled slot), else until a late effect would have landed."""
        if isinstance(error, httpx.ConnectTimeout | httpx.PoolTimeout):
            return None
        if self.late_landing_seconds is not None:
            return self.late_landing_seconds
        return self.timeout.read

    def _log(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None,
        headers: Mapping[str, str],
        content: bytes | None,
        status: int | None,
        started: float,
    ) -> None:
        # Bodies are never logged: they carry guest data. Sizes and masked headers are enough
        # to tell what was sent; the simulators keep whole bodies for tests.
        logger.info(
            "channel request",
            extra={
                "channel": self.channel,
                "method": method,
                "path": path,
                "params": masked_params(params, self.secret_names),
                "request_headers": masked_headers(headers, self.secret_names),
                "body_bytes": 0 if content is None else len(content),
                "status": status,
                "elapsed_ms": round((time.monotonic() - started) * 1000, 1),
            },
        )


def encode_json(body: Any) -> bytes:
    """Compact JSON, as every JSON channel takes it (and as measured against size limits)."""
    return json.dumps(body, separators=(",", ":")).encode()

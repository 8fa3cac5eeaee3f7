"""HTTP to Channex API v1: typed answers in, channel errors out (channex.md §1.2, §1.4, §1.5).

Every status the vendor documents is translated here: 401/403 need new credentials, 429, 5xx
and transport failures are worth retrying later, every other refusal is final. Messages carry
the vendor's error code and details, never the key or any header.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from innsync.channels.channex.config import ChannexConfig
from innsync.channels.errors import (
    ChannelAuthError,
    ChannelRejectedError,
    ChannelUnavailableError,
)

WallClock = Callable[[], datetime]
ModelT = TypeVar("ModelT", bound=BaseModel)

# channex.md §1.3: "at most 10 MB per JSON call"; read as 10,000,000 bytes, the smaller reading.
MAX_BODY_BYTES = 10_000_000
# channex.md §1.3: over the limit "nothing is processed until the limit expires" and the advice
# is to pause the property for a minute; Channex sends no Retry-After, so a minute is the hint.
RATE_LIMIT_PAUSE_SECONDS = 60.0


class _VendorModel(BaseModel):
    # Channex adds fields over time; unknown ones are ignored, missing required ones fail.
    model_config = ConfigDict(extra="ignore", frozen=True)


class TaskRef(_VendorModel):
    """A queued ARI task; one call is one task (channex.md §1.5)."""

    id: str
    type: str = "task"


class AriWriteMeta(_VendorModel):
    message: str | None = None
    warnings: list[dict[str, Any]] = Field(default_factory=list)


class AriWriteAnswer(_VendorModel):
    """The 200 answer to POST /restrictions or /availability; refused entries are warnings."""

    data: list[TaskRef] | None = None
    meta: AriWriteMeta = Field(default_factory=AriWriteMeta)

    @property
    def task_id(self) -> str | None:
        return self.data[0].id if self.data else None


class RestrictionDay(_VendorModel):
    """One rate plan on one date as GET /restrictions shows it (rates as decimal strings)."""

    rate: Decimal | None = Field(default=None, ge=0)
    min_stay_arrival: int | None = Field(default=None, ge=1)
    min_stay_through: int | None = Field(default=None, ge=1)
    max_stay: int | None = Field(default=None, ge=0)
    closed_to_arrival: bool | None = None
    closed_to_departure: bool | None = None
    stop_sell: bool | None = None


class _RestrictionsAnswer(_VendorModel):
    data: dict[str, dict[date, RestrictionDay]]


class _AvailabilityAnswer(_VendorModel):
    data: dict[str, dict[date, int]]


class PropertyAttributes(_VendorModel):
    id: str
    title: str | None = None
    currency: str | None = None
    timezone: str | None = None


class _PropertyResource(_VendorModel):
    attributes: PropertyAttributes


class _PropertyAnswer(_VendorModel):
    data: _PropertyResource


class RatePlanOption(_VendorModel):
    """One row of GET /rate_plans/options: one occupancy option of one plan (channex.md §1.4)."""

    id: str
    room_type_id: str | None = None
    sell_mode: str = "per_room"
    occupancy: int | None = None


class _RatePlanOptionResource(_VendorModel):
    id: str
    attributes: dict[str, Any]


class _RatePlanOptionsAnswer(_VendorModel):
    data: list[_RatePlanOptionResource]


class _ErrorBody(_VendorModel):
    code: str = "unknown"
    title: str = ""
    details: dict[str, Any] | list[Any] | None = None


class _ErrorAnswer(_VendorModel):
    errors: _ErrorBody


class ChannexClient:
    """The calls innsync makes to one Channex property, over an injected ``httpx.AsyncClient``."""

    def __init__(self, http: httpx.AsyncClient, config: ChannexConfig, now: WallClock) -> None:
        self._http = http
        self._config = config
        self._now = now
        self._timeout = httpx.Timeout(
            config.timeout_seconds, connect=config.connect_timeout_seconds
        )

    @property
    def property_id(self) -> str:
        return self._config.property_id

    async def get_property(self) -> PropertyAttributes:
        answer = await self._call("GET", f"/properties/{self.property_id}")
        return _parse(_PropertyAnswer, answer).data.attributes

    async def rate_plan_options(self) -> list[RatePlanOption]:
        # channex.md §1.4: the /options lists are not paginated.
        answer = await self._call(
            "GET", "/rate_plans/options", params={"filter[property_id]": self.property_id}
        )
        rows = _parse(_RatePlanOptionsAnswer, answer).data
        return [
            _parse(RatePlanOption, {**row.attributes, "id": row.id}, "rate plan option")
            for row in rows
        ]

    async def push_restrictions(self, values: Sequence[Mapping[str, Any]]) -> AriWriteAnswer:
        return _parse(AriWriteAnswer, await self._post_values("/restrictions", values))

    async def push_availability(self, values: Sequence[Mapping[str, Any]]) -> AriWriteAnswer:
        return _parse(AriWriteAnswer, await self._post_values("/availability", values))

    async def read_restrictions(
        self, first: date, last: date, fields: Sequence[str]
    ) -> dict[str, dict[date, RestrictionDay]]:
        params = {**self._date_filter(first, last), "filter[restrictions]": ",".join(fields)}
        answer = await self._call("GET", "/restrictions", params=params)
        return _parse(_RestrictionsAnswer, answer).data

    async def read_availability(self, first: date, last: date) -> dict[str, dict[date, int]]:
        answer = await self._call("GET", "/availability", params=self._date_filter(first, last))
        return _parse(_AvailabilityAnswer, answer).data

    def _date_filter(self, first: date, last: date) -> dict[str, str]:
        # channex.md §1.5: reads need the property and a date filter, inclusive at both ends.
        return {
            "filter[property_id]": self.property_id,
            "filter[date][gte]": first.isoformat(),
            "filter[date][lte]": last.isoformat(),
        }

    async def _post_values(self, path: str, values: Sequence[Mapping[str, Any]]) -> Any:
        body = json.dumps({"values": list(values)}, separators=(",", ":")).encode()
        if len(body) > MAX_BODY_BYTES:
            # Channex would refuse it whole; sending it would only spend the minute's budget.
            raise ChannelRejectedError(
                f"Channex takes at most {MAX_BODY_BYTES} bytes per call; this one has {len(body)}"
            )
        return await self._call("POST", path, content=body)

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        content: bytes | None = None,
    ) -> Any:
        headers = {
            "user-api-key": self._config.api_key.get_secret_value(),
            "accept": "application/json",
        }
        if content is not None:
            headers["content-type"] = "application/json"
        try:
            response = await self._http.request(
                method,
                self._config.base_url + path,
                params=params,
                content=content,
                headers=headers,
                timeout=self._timeout,
            )
        except httpx.TimeoutException as exc:
            raise ChannelUnavailableError(f"Channex {method} {path} timed out") from exc
        except httpx.TransportError as exc:
            raise ChannelUnavailableError(
                f"Channex {method} {path} failed: {type(exc).__name__}"
            ) from exc
        if response.is_success:
            try:
                return response.json()
            except ValueError as exc:
                # The call may have been applied; a retry sends the same values again, harmlessly.
                raise ChannelUnavailableError(
                    f"Channex {method} {path} answered {response.status_code} with no JSON"
                ) from exc
        raise self._error(method, path, response)

    def _error(
        self, method: str, path: str, response: httpx.Response
    ) -> ChannelAuthError | ChannelUnavailableError | ChannelRejectedError:
        status = response.status_code
        message = f"Channex {method} {path} answered {status} {_describe(response)}"
        if status in (401, 403):
            return ChannelAuthError(message)
        if status == 429:
            retry_after = retry_after_seconds(response.headers, self._now())
            return ChannelUnavailableError(
                message,
                retry_after=RATE_LIMIT_PAUSE_SECONDS if retry_after is None else retry_after,
            )
        if status >= 500 or status == 408:
            return ChannelUnavailableError(
                message, retry_after=retry_after_seconds(response.headers, self._now())
            )
        return ChannelRejectedError(message)


def _parse(model: type[ModelT], payload: Any, what: str = "answer") -> ModelT:
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        fields = sorted({".".join(str(part) for part in error["loc"]) for error in exc.errors()})
        raise ChannelUnavailableError(
            f"Channex sent an unexpected {what} (fields: {', '.join(fields[:5]) or 'body'})"
        ) from exc


def _describe(response: httpx.Response) -> str:
    """The vendor's error code, title and details (channex.md §1.2 envelope), or nothing."""
    try:
        body = _ErrorAnswer.model_validate(response.json()).errors
    except (ValueError, ValidationError):
        return "(no error body)"
    text = f"{body.code}: {body.title}".rstrip(": ")
    if isinstance(body.details, dict):
        reasons = "; ".join(f"{field} {_joined(value)}" for field, value in body.details.items())
        text += f" ({reasons})"
    elif isinstance(body.details, list) and body.details:
        text += f" ({_joined(body.details)})"
    return text


def _joined(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)


def retry_after_seconds(headers: Mapping[str, str], now: datetime) -> float | None:
    """The ``Retry-After`` header as seconds from ``now`` (delta-seconds or an HTTP date)."""
    raw = headers.get("retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    if raw.isdigit():
        return float(raw)
    try:
        moment = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        return None
    return max((moment - now).total_seconds(), 0.0)

"""HTTP to Channex API v1: typed answers in, channel errors out (channex.md §1.2, §1.4, §1.5).

Every status the vendor documents is translated here: 401/403 need new credentials, 429, 5xx
and transport failures are worth retrying later, every other refusal is final. Messages carry
the vendor's error code and details, never the key or any header.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from innsync.channels.channex.answers import (
    AriWriteAnswer,
    AvailabilityAnswer,
    ErrorAnswer,
    GroupAttributes,
    ListAnswer,
    PropertyAnswer,
    PropertyAttributes,
    RatePlanAttributes,
    RatePlanOption,
    RatePlanOptionsAnswer,
    ResourceAnswer,
    RestrictionDay,
    RestrictionsAnswer,
    RoomTypeAttributes,
    WebhookAttributes,
)
from innsync.channels.channex.config import ChannexConfig
from innsync.channels.errors import (
    ChannelAuthError,
    ChannelRejectedError,
    ChannelUnavailableError,
    MappingMissingError,
)

WallClock = Callable[[], datetime]
ModelT = TypeVar("ModelT", bound=BaseModel)

# channex.md §1.3: "at most 10 MB per JSON call"; read as 10,000,000 bytes, the smaller reading.
MAX_BODY_BYTES = 10_000_000
# channex.md §1.2: list pages hold at most 100 items; asking for the maximum means fewer calls.
PAGE_LIMIT = 100
# A guard against a server whose `meta.total` never stops growing: 1,000 pages of 100 are far
# beyond any property's room types or rate plans (§1.3 caps a hotel at 20 and 200).
MAX_PAGES = 1000
# channex.md §1.3: over the limit "nothing is processed until the limit expires" and the advice
# is to pause the property for a minute; Channex sends no Retry-After, so a minute is the hint.
RATE_LIMIT_PAUSE_SECONDS = 60.0


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
        if self._config.property_id is None:
            raise MappingMissingError(
                "the Channex connection has no property yet: provision it or set property_id"
            )
        return self._config.property_id

    async def get_property(self) -> PropertyAttributes:
        answer = await self._call("GET", f"/properties/{self.property_id}")
        return _parse(PropertyAnswer, answer).data.attributes

    # Entities (§1.4), for provisioning and reading the remote catalog.

    async def list_groups(self) -> list[GroupAttributes]:
        return await self._list_all("/groups", {}, GroupAttributes)

    async def create_group(self, title: str) -> GroupAttributes:
        return await self._write("POST", "/groups", "group", {"title": title}, GroupAttributes)

    async def update_group(self, group_id: str, title: str) -> GroupAttributes:
        return await self._write(
            "PUT", f"/groups/{group_id}", "group", {"title": title}, GroupAttributes
        )

    async def find_property(self, property_id: str) -> PropertyAttributes | None:
        """The property with this id, or ``None`` when Channex does not know it."""
        answer = await self._call("GET", f"/properties/{property_id}", missing_ok=True)
        return None if answer is None else _entity(answer, PropertyAttributes)

    async def properties_titled(self, title: str) -> list[PropertyAttributes]:
        # §1.2: a comma in a filter value means "in list", so such titles are matched here.
        params = {} if "," in title else {"filter[title]": title}
        found = await self._list_all("/properties", params, PropertyAttributes)
        return [prop for prop in found if prop.title == title]

    async def create_property(self, fields: Mapping[str, Any]) -> PropertyAttributes:
        return await self._write("POST", "/properties", "property", fields, PropertyAttributes)

    async def update_property(
        self, property_id: str, fields: Mapping[str, Any]
    ) -> PropertyAttributes:
        return await self._write(
            "PUT", f"/properties/{property_id}", "property", fields, PropertyAttributes
        )

    async def add_property_to_group(self, group_id: str, property_id: str) -> None:
        await self._call("POST", f"/groups/{group_id}/properties/{property_id}")

    async def list_room_types(self, property_id: str) -> list[RoomTypeAttributes]:
        return await self._list_all(
            "/room_types", {"filter[property_id]": property_id}, RoomTypeAttributes
        )

    async def create_room_type(self, fields: Mapping[str, Any]) -> RoomTypeAttributes:
        return await self._write("POST", "/room_types", "room_type", fields, RoomTypeAttributes)

    async def update_room_type(
        self, room_type_id: str, fields: Mapping[str, Any]
    ) -> RoomTypeAttributes:
        return await self._write(
            "PUT", f"/room_types/{room_type_id}", "room_type", fields, RoomTypeAttributes
        )

    async def list_rate_plans(self, property_id: str) -> list[RatePlanAttributes]:
        return await self._list_all(
            "/rate_plans", {"filter[property_id]": property_id}, RatePlanAttributes
        )

    async def create_rate_plan(self, fields: Mapping[str, Any]) -> RatePlanAttributes:
        return await self._write("POST", "/rate_plans", "rate_plan", fields, RatePlanAttributes)

    async def update_rate_plan(
        self, rate_plan_id: str, fields: Mapping[str, Any]
    ) -> RatePlanAttributes:
        return await self._write(
            "PUT", f"/rate_plans/{rate_plan_id}", "rate_plan", fields, RatePlanAttributes
        )

    async def _list_all(
        self, path: str, params: Mapping[str, str], model: type[ModelT]
    ) -> list[ModelT]:
        """Every item of a paginated list (§1.2), page after page until the total is reached."""
        found: list[ModelT] = []
        for page in range(1, MAX_PAGES + 1):
            answer = await self._call(
                "GET",
                path,
                params={
                    **params,
                    "pagination[page]": str(page),
                    "pagination[limit]": str(PAGE_LIMIT),
                },
            )
            listed = _parse(ListAnswer, answer)
            found.extend(_parse(model, item.merged(), path) for item in listed.data)
            total = listed.meta.total
            # A short or empty page is the last one, whatever `total` says.
            if len(listed.data) < PAGE_LIMIT or (total is not None and len(found) >= total):
                return found
        raise ChannelUnavailableError(f"Channex GET {path} did not end after {MAX_PAGES} pages")

    async def _write(
        self,
        method: str,
        path: str,
        wrapper: str,
        fields: Mapping[str, Any],
        model: type[ModelT],
    ) -> ModelT:
        # §1.2: write bodies are wrapped under the resource type.
        body = json.dumps({wrapper: dict(fields)}, separators=(",", ":")).encode()
        return _entity(await self._call(method, path, content=body), model)

    async def rate_plan_options(self) -> list[RatePlanOption]:
        # channex.md §1.4: the /options lists are not paginated.
        answer = await self._call(
            "GET", "/rate_plans/options", params={"filter[property_id]": self.property_id}
        )
        rows = _parse(RatePlanOptionsAnswer, answer).data
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
        return _parse(RestrictionsAnswer, answer).data

    async def read_availability(self, first: date, last: date) -> dict[str, dict[date, int]]:
        answer = await self._call("GET", "/availability", params=self._date_filter(first, last))
        return _parse(AvailabilityAnswer, answer).data

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

    # Booking revisions (§1.6): answers are returned as sent and read by bookings.py.

    async def booking_revision(self, revision_id: str) -> Any:
        return await self._call("GET", f"/booking_revisions/{quote(revision_id, safe='')}")

    async def booking_feed(self, page: int, limit: int) -> Any:
        """One page of the property's unacknowledged revisions, oldest first."""
        params = {
            "filter[property_id]": self.property_id,
            "order[inserted_at]": "asc",
            "pagination[page]": str(page),
            "pagination[limit]": str(limit),
        }
        return await self._call("GET", "/booking_revisions/feed", params=params)

    async def ack_revision(self, revision_id: str) -> None:
        await self._call(
            "POST", f"/booking_revisions/{quote(revision_id, safe='')}/ack", content=b"{}"
        )

    # Webhook subscriptions (§1.7).

    async def list_webhooks(self) -> list[WebhookAttributes]:
        return await self._list_all("/webhooks", {}, WebhookAttributes)

    async def create_webhook(self, fields: Mapping[str, Any]) -> WebhookAttributes:
        return await self._write("POST", "/webhooks", "webhook", fields, WebhookAttributes)

    async def update_webhook(self, webhook_id: str, fields: Mapping[str, Any]) -> WebhookAttributes:
        path = f"/webhooks/{quote(webhook_id, safe='')}"
        return await self._write("PUT", path, "webhook", fields, WebhookAttributes)

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        content: bytes | None = None,
        missing_ok: bool = False,
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
        if missing_ok and response.status_code == 404:
            return None
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


def _entity(answer: Any, model: type[ModelT]) -> ModelT:
    """One §1.2 resource envelope, its id and relationships merged into its attributes."""
    return _parse(model, _parse(ResourceAnswer, answer).data.merged(), model.__name__)


def _describe(response: httpx.Response) -> str:
    """The vendor's error code, title and details (channex.md §1.2 envelope), or nothing."""
    try:
        body = ErrorAnswer.model_validate(response.json()).errors
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

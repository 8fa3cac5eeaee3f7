"""HTTP to Channex API v1: typed answers in, channel errors out (channex.md §1.2, §1.4, §1.5).

Statuses, ``Retry-After``, paging, JSON bodies and request logging are the channel kit's
(``channels/http.py``); what is Channex's is here: paths, the §1.2 envelopes, the §1.3 limits
and how its error bodies read. Messages carry the vendor's error code and details, never the
key or any header.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from innsync.channels.channex.answers import (
    AriWriteAnswer,
    AvailabilityAnswer,
    CancellationPolicyAttributes,
    ChannelAttributes,
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
    ActionNotSupportedError,
    ChannelRejectedError,
    MappingMissingError,
)
from innsync.channels.http import (
    ChannelHttp,
    Page,
    WallClock,
    collect_pages,
    encode_json,
    parse_answer,
    refuse_oversized,
)

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
CHANNEL = "Channex"
# channex.md §1.6: the 422 code of a booking action the booking's OTA does not support.
METHOD_NOT_SUPPORTED = "method_not_supported"
# channex.md §1.2: the key travels in this header on every call.
KEY_HEADER = "user-api-key"


class ChannexClient:
    """The calls innsync makes to one Channex property, over an injected ``httpx.AsyncClient``."""

    def __init__(self, http: httpx.AsyncClient, config: ChannexConfig, now: WallClock) -> None:
        self._config = config
        self._http = ChannelHttp(
            http,
            channel=CHANNEL,
            base_url=config.base_url,
            timeout=httpx.Timeout(config.timeout_seconds, connect=config.connect_timeout_seconds),
            default_headers={KEY_HEADER: config.api_key.get_secret_value()},
            describe=_describe,
            rate_limit_pause=RATE_LIMIT_PAUSE_SECONDS,
            now=now,
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

    # [UNCONFIRMED] Not in Channex's documents: the endpoint, its `cancellation_policy` wrapper
    # and the property filter are those third-party integrations use (CHECKLIST.yaml).

    async def list_cancellation_policies(
        self, property_id: str
    ) -> list[CancellationPolicyAttributes]:
        return await self._list_all(
            "/cancellation_policies",
            {"filter[property_id]": property_id},
            CancellationPolicyAttributes,
        )

    async def create_cancellation_policy(
        self, fields: Mapping[str, Any]
    ) -> CancellationPolicyAttributes:
        return await self._write(
            "POST",
            "/cancellation_policies",
            "cancellation_policy",
            fields,
            CancellationPolicyAttributes,
        )

    async def update_cancellation_policy(
        self, policy_id: str, fields: Mapping[str, Any]
    ) -> CancellationPolicyAttributes:
        return await self._write(
            "PUT",
            f"/cancellation_policies/{quote(policy_id, safe='')}",
            "cancellation_policy",
            fields,
            CancellationPolicyAttributes,
        )

    async def delete_rate_plan(self, rate_plan_id: str) -> None:
        """§1.4 DELETE without `force`: Channex keeps a plan an OTA channel still maps."""
        await self._call("DELETE", f"/rate_plans/{quote(rate_plan_id, safe='')}")

    async def delete_room_type(self, room_type_id: str) -> None:
        """§1.4 DELETE without `force`: Channex keeps a room type linked to an OTA channel
        (docs.channex.io "Delete Room Type API": 422 unless `force=true`)."""
        await self._call("DELETE", f"/room_types/{quote(room_type_id, safe='')}")

    async def _list_all(
        self, path: str, params: Mapping[str, str], model: type[ModelT]
    ) -> list[ModelT]:
        """Every item of a paginated list (§1.2), page after page until the total is reached."""

        async def fetch(page: int) -> Page[ModelT]:
            paging = {"pagination[page]": str(page), "pagination[limit]": str(PAGE_LIMIT)}
            listed = _parse(ListAnswer, await self._call("GET", path, params={**params, **paging}))
            items = [_parse(model, item.merged(), path) for item in listed.data]
            return Page(items, listed.meta.total)

        return await collect_pages(
            fetch, page_size=PAGE_LIMIT, max_pages=MAX_PAGES, what=f"{CHANNEL} GET {path}"
        )

    async def _write(
        self,
        method: str,
        path: str,
        wrapper: str,
        fields: Mapping[str, Any],
        model: type[ModelT],
    ) -> ModelT:
        # §1.2: write bodies are wrapped under the resource type.
        return _entity(
            await self._call(method, path, content=encode_json({wrapper: dict(fields)})), model
        )

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
        body = encode_json({"values": list(values)})
        refuse_oversized(body, MAX_BODY_BYTES, CHANNEL)
        return await self._call("POST", path, content=body)

    # Booking revisions (§1.6): answers are returned as sent and read by bookings.py.

    async def booking_revision(self, revision_id: str) -> Any:
        return await self._call("GET", f"/booking_revisions/{quote(revision_id, safe='')}")

    async def booking_feed(self, page: int, limit: int, *, account_wide: bool = False) -> Any:
        """One page of the property's unacknowledged revisions, oldest first; ``account_wide``:
        of every property the key reaches (§1.6: the feed covers the account)."""
        params = {
            "order[inserted_at]": "asc",
            "pagination[page]": str(page),
            "pagination[limit]": str(limit),
        }
        if not account_wide:
            params["filter[property_id]"] = self.property_id
        return await self._call("GET", "/booking_revisions/feed", params=params)

    async def booking(self, booking_id: str) -> Any:
        """§1.6 ``GET /bookings/:id``: the booking's latest revision (recovery only)."""
        return await self._call("GET", f"/bookings/{quote(booking_id, safe='')}")

    async def bookings_arriving(self, first: date, last: date, page: int, limit: int) -> Any:
        """One page of §1.6 ``GET /bookings`` of the property arriving in ``[first, last]``
        (inclusive, as Channex filters), oldest first."""
        params = {
            "filter[property_id]": self.property_id,
            "filter[arrival_date][gte]": first.isoformat(),
            "filter[arrival_date][lte]": last.isoformat(),
            "order[inserted_at]": "asc",
            "pagination[page]": str(page),
            "pagination[limit]": str(limit),
        }
        return await self._call("GET", "/bookings", params=params)

    async def ack_revision(self, revision_id: str) -> None:
        await self._call(
            "POST", f"/booking_revisions/{quote(revision_id, safe='')}/ack", content=b"{}"
        )

    # The OTAs behind the property (the Channel API, docs/channels/channex.md).

    async def list_channels(self) -> list[ChannelAttributes]:
        return await self._list_all(
            "/channels", {"filter[property_id]": self.property_id}, ChannelAttributes
        )

    async def booking_action(
        self, booking_id: str, action: str, body: Mapping[str, Any] | None
    ) -> None:
        """§1.6 `POST /bookings/:id/<action>`; `method_not_supported` when the OTA lacks it."""
        path = f"/bookings/{quote(booking_id, safe='')}/{action}"
        try:
            await self._call("POST", path, content=encode_json(body or {}))
        except ChannelRejectedError as exc:
            # The vendor code is in the message _describe built from Channex's error body.
            if f"{METHOD_NOT_SUPPORTED}:" in str(exc):
                raise ActionNotSupportedError(str(exc)) from exc
            raise

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
        return await self._http.json_bytes(
            method, path, params=params, content=content, missing_ok=missing_ok
        )


def _parse(model: type[ModelT], payload: Any, what: str = "answer") -> ModelT:
    return parse_answer(model, payload, CHANNEL, what)


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

"""§2.4 conventions: GET envelopes with pages of 100, array query parameters, array bodies."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from starlette.datastructures import QueryParams

from innsync.simulators.beds24.errors import Beds24Error


def int_list(query: QueryParams, name: str) -> list[int]:
    """``?id=1&id=2`` or ``?id[]=1`` (§2.4: the encoding is unconfirmed, both are read)."""
    values = [*query.getlist(name), *query.getlist(f"{name}[]")]
    try:
        return [int(value) for value in values]
    except ValueError:
        raise Beds24Error(400, f"{name} must be integers") from None


def text_list(query: QueryParams, name: str) -> list[str]:
    return [*query.getlist(name), *query.getlist(f"{name}[]")]


def json_array(body: bytes, max_items: int) -> list[Any]:
    """§2.4: POST takes a JSON array; §2.3: at most 10,000 top-level items."""
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        raise Beds24Error(400, "Body must be valid JSON") from None
    if not isinstance(payload, list):
        raise Beds24Error(400, "Body must be a JSON array")
    if len(payload) > max_items:
        raise Beds24Error(400, f"At most {max_items} items per request")
    return payload


def envelope(request: Request, kind: str, items: list[Any], page_size: int) -> dict[str, Any]:
    """``{"success", "type", "count", "pages": {"nextPageExists", "nextPageLink"}, "data"}``."""
    try:
        page = max(int(request.query_params.get("page", "1")), 1)
    except ValueError:
        raise Beds24Error(400, "page must be an integer") from None
    data = items[(page - 1) * page_size : page * page_size]
    more = len(items) > page * page_size
    link = None
    if more:
        query = [(k, v) for k, v in request.query_params.multi_items() if k != "page"]
        link = (
            str(request.url.replace_query_params(**{}))
            + "?"
            + str(QueryParams([*query, ("page", str(page + 1))]))
        )
    pages: dict[str, Any] = {"nextPageExists": more}
    if link is not None:
        pages["nextPageLink"] = link
    return {"success": True, "type": kind, "count": len(data), "pages": pages, "data": data}

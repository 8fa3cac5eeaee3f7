"""Octorate's wire formats: its timestamps and the form bodies of the identity endpoints."""

from __future__ import annotations

from datetime import UTC, date, datetime
from urllib.parse import parse_qs

from fastapi import Request

from innsync.simulators.octorate.errors import OctorateError


def expire_date(moment: datetime) -> str:
    """§2.2: ``expireDate`` as Octorate sends it, ``2025-03-01T10:00:00.000Z``."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def zoned(moment: datetime) -> str:
    """§2.3: the Java-style zoned timestamp, ``2027-10-20T02:00:00Z[UTC]``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ[UTC]")


def parse_stay_day(value: object, what: str) -> date:
    """A stay day from ``2027-10-20``, an ISO timestamp or the zoned ``…Z[UTC]`` form."""
    if not isinstance(value, str) or len(value) < 10:
        raise OctorateError(400, "ApiParamsExemption", f"{what} must be a date, got {value!r}")
    text = value.removesuffix("[UTC]")
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date()
    except ValueError:
        raise OctorateError(400, "ApiParamsExemption", f"{what} is not a date: {value!r}") from None


async def form(request: Request) -> dict[str, str]:
    """The ``application/x-www-form-urlencoded`` body (§2.2), last value of each field."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("application/x-www-form-urlencoded"):
        raise OctorateError(
            400, "Bad Request", "Content-Type must be application/x-www-form-urlencoded"
        )
    try:
        parsed = parse_qs((await request.body()).decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        raise OctorateError(400, "Bad Request", "the form body is not UTF-8") from None
    return {name: values[-1] for name, values in parsed.items()}

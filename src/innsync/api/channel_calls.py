"""The few API routes that call a channel while the request waits (an operator's test,
provisioning, a booking action reported to an OTA): their HTTP client and their answers.

Everything else reaches channels through the outbox and the inbox; these calls are the ones
whose answer a person needs at once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from typing import Annotated, TypeVar

import httpx
from fastapi import Depends, Request

from innsync.channels.errors import (
    ActionNotSupportedError,
    ChannelAuthError,
    ChannelError,
    ChannelUnavailableError,
    MappingMissingError,
)
from innsync.errors import DomainError
from innsync.outbound import async_client

T = TypeVar("T")


async def channel_http(request: Request) -> AsyncIterator[httpx.AsyncClient]:
    """A client for calls to a channel's API, held to the outbound policy at every connect;
    tests put a transport in ``app.state`` (``channel_transport``) instead."""
    transport: httpx.AsyncBaseTransport | None = getattr(
        request.app.state, "channel_transport", None
    )
    timeout = request.app.state.settings.channel_timeout_seconds
    if transport is not None:
        http = httpx.AsyncClient(transport=transport, timeout=timeout)
    else:
        http = async_client(request.app.state.outbound, timeout=timeout)
    async with http:
        yield http


ChannelHttp = Annotated[httpx.AsyncClient, Depends(channel_http)]


class ChannelCallError(DomainError):
    """A channel's refusal or failure, answered as problem+json with the channel's message."""

    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title


async def calling_channel(call: Awaitable[T]) -> T:
    """Await a use-case that calls a channel; its errors become clear answers, never a 500."""
    try:
        return await call
    except MappingMissingError as exc:
        raise ChannelCallError(409, "Connection not set up", str(exc)) from exc
    except ActionNotSupportedError as exc:
        # The OTA lacks the action: nothing failed, and asking again will not change it.
        raise ChannelCallError(409, "Not supported by the OTA", str(exc)) from exc
    except ChannelAuthError as exc:
        raise ChannelCallError(
            502, "Channel refused the credentials", f"{exc}; check the connection's credentials"
        ) from exc
    except ChannelUnavailableError as exc:
        hint = "" if exc.retry_after is None else f"; retry after {exc.retry_after:.0f} s"
        raise ChannelCallError(503, "Channel unavailable", f"{exc}{hint}") from exc
    except ChannelError as exc:
        raise ChannelCallError(502, "Channel rejected the request", str(exc)) from exc

"""The Expedia adapter against an in-process EQC simulator (httpx's ASGI transport)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
from fastapi import FastAPI

from innsync.channels.expedia import ExpediaAdapter, ExpediaConfig

T = TypeVar("T")
SIM_URL = "http://eqc.test"


PASSWORD = "ECLPASS"


def adapter_config(
    hotel_id: str = "211", password: str = PASSWORD, **options: Any
) -> ExpediaConfig:
    return ExpediaConfig.model_validate(
        {
            "hotel_id": hotel_id,
            "username": "innsync-test",
            "password": password,
            "ar_url": f"{SIM_URL}/connect/ar",
            "br_url": f"{SIM_URL}/connect/br",
            "bc_url": f"{SIM_URL}/connect/bc",
            "parr_url": f"{SIM_URL}/connect/parr",
            **options,
        }
    )


def with_adapter(
    app: FastAPI, config: ExpediaConfig, step: Callable[[ExpediaAdapter], Awaitable[T]]
) -> T:
    """Run ``step`` with an adapter whose HTTP goes into ``app``."""

    async def run() -> T:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport) as http:
            return await step(ExpediaAdapter(config, http, now=app.state.simulator.now))

    return asyncio.run(run())

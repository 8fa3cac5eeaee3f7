"""Fixtures of the API tests that reach Channex: its simulator, served in process."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.api.channex_site import KEY, new_sim_app
from tests.simulators.conftest import SimClient


@pytest.fixture
def sim_app() -> FastAPI:
    return new_sim_app()


@pytest.fixture
def sim(sim_app: FastAPI) -> SimClient:
    return SimClient(sim_app, api_key=KEY)


@pytest.fixture
def api(client: TestClient, sim_app: FastAPI) -> TestClient:
    """The innsync API whose calls to channels reach the simulator."""
    assert isinstance(client.app, FastAPI)
    client.app.state.channel_transport = httpx.ASGITransport(app=sim_app)
    return client

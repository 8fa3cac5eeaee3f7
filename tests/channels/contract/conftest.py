"""The ``harness`` fixture: every contract test runs once per adapter."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.channels.contract.harnesses import HARNESSES, AdapterHarness


@pytest.fixture(params=sorted(HARNESSES))
def harness(request: pytest.FixtureRequest) -> Iterator[AdapterHarness]:
    built = HARNESSES[request.param]()
    yield built
    built.close()

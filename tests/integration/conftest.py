"""Fixtures of the clients API tests (test_api*.py)."""

from collections.abc import AsyncIterator

import httpx
import pytest

from shared.db import Pool
from tests.conftest import Pipeline
from tests.support.api_helpers import Shop, a_shop


@pytest.fixture
async def shop(pool: Pool) -> Shop:
    """A new store with a token of every kind."""
    return await a_shop(pool)


@pytest.fixture
async def http(pipeline: Pipeline) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the running pipeline's edge."""
    async with httpx.AsyncClient(base_url=pipeline.base_url, timeout=30) as client:
        yield client

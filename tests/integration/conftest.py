"""Fixtures the integration tests share: an integration key, and for the clients API tests
(test_api*.py, test_client_cli.py) a store with a token of every kind and an HTTP client."""

from collections.abc import AsyncIterator

import httpx
import pytest

from shared import stores
from shared.db import Pool
from tests.conftest import Pipeline
from tests.support.api_helpers import Shop, a_shop


@pytest.fixture
async def key(pool: Pool, store: stores.Store) -> stores.IssuedKey:
    """An integration key of a new store (in the module's `pool`), labelled as
    tests/support/factories.py labels its commands' source."""
    return await stores.create_key(pool, store.id, "WooCommerce")


@pytest.fixture
async def shop(pool: Pool) -> Shop:
    """A new store with a token of every kind."""
    return await a_shop(pool)


@pytest.fixture
async def http(pipeline: Pipeline) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the running pipeline's edge."""
    async with httpx.AsyncClient(base_url=pipeline.base_url, timeout=30) as client:
        yield client

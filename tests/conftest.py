"""Fixtures on the real infrastructure (`make test` starts it; see README).

Layout: `tests/unit/` needs nothing running (`make test-unit`, seconds); `tests/integration/`
runs on the real Kafka broker and PostgreSQL, and is marked `integration` here, so that
`-m "not integration"` selects the same split; `tests/support/` holds the shared helpers.

Isolation: each test makes its own store (the product's tenancy boundary), its own topics and
consumer groups, or its own scratch database, so tests run in any order and in any subset.
"""

import asyncio
import inspect
import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import asyncpg
import httpx
import pytest

from services.registry import service
from shared import stores
from shared.db import Pool, create_pool
from shared.migrate import migrate
from shared.runner import prepare, run
from shared.settings import Settings
from shared.topics import (
    ATTESTATIONS,
    COMMANDS,
    IMPORT_CHUNKS,
    INGEST,
    ORDERS,
    UPSERT,
    TopicSpec,
    ensure_topics,
)
from tests.support.databases import create_database, drop_database
from tests.support.kafka_helpers import fast_forward

if TYPE_CHECKING:
    from tests.support.fake_providers import FakeProviders
    from tests.support.messaging_helpers import Messaging


# The tests' own broker and database (the Makefile's `test` target starts them): never the ones
# `make run` reads. Set here, under pytest only, so that processes the tests start inherit them.
TEST_KAFKA = "127.0.0.1:19092"
TEST_DATABASE = "postgresql://clients@127.0.0.1:54320/clients_test"


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("KAFKA_BOOTSTRAP_SERVERS", TEST_KAFKA)
    os.environ.setdefault("DATABASE_URL", TEST_DATABASE)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "integration" in item.path.parts:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings()


@pytest.fixture(scope="session")
async def pool(settings: Settings) -> AsyncIterator[Pool]:
    try:
        await migrate(settings.database_url)
        pool = await create_pool(settings)
    except (OSError, asyncpg.PostgresError) as e:
        pytest.fail(f"PostgreSQL at {settings.database_url} is not usable ({e}); "
                    "run `make test` (or `make test-infra` first)", pytrace=False)
    yield pool
    await pool.close()


@pytest.fixture
async def store(pool: Pool) -> stores.Store:
    return await stores.create_store(pool, f"test store {uuid.uuid4().hex[:8]}")


def unique(prefix: str) -> str:
    return f"{prefix}.{uuid.uuid4().hex[:12]}"


@pytest.fixture
def make_topic(settings: Settings) -> Callable[..., Awaitable[str]]:
    async def make(partitions: int = 1, prefix: str = "test") -> str:
        name = unique(prefix)
        await ensure_topics(settings.kafka_bootstrap_servers, [TopicSpec(name, partitions)])
        return name
    return make


@asynccontextmanager
async def scratch_database_url(settings: Settings) -> AsyncIterator[str]:
    url = await create_database(settings.database_url, f"clients_test_{uuid.uuid4().hex[:10]}")
    try:
        yield url
    finally:
        await drop_database(url)


@pytest.fixture
async def scratch_database(settings: Settings) -> AsyncIterator[str]:
    """An empty database of its own, dropped afterwards."""
    async with scratch_database_url(settings) as url:
        yield url


@pytest.fixture(scope="module")
async def private_database(settings: Settings) -> AsyncIterator[str]:
    """A migrated database no running service touches (no relay empties its outbox or holds
    its advisory locks)."""
    async with scratch_database_url(settings) as url:
        await migrate(url)
        yield url


@pytest.fixture(scope="module")
async def private_pool(settings: Settings, private_database: str) -> AsyncIterator[Pool]:
    pool = await create_pool(settings.model_copy(update={"database_url": private_database}))
    yield pool
    await pool.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def eventually(check: Callable[[], bool | Awaitable[bool]], within: float = 20.0,
                     interval: float = 0.1) -> None:
    """Wait until `check()` is true (it may be a coroutine); fail after `within` seconds.
    Polls: the state lives in another process (Kafka, PostgreSQL), so there is no event to
    wait on."""
    async with asyncio.timeout(within):
        while True:
            result = check()
            if await result if inspect.isawaitable(result) else result:
                return
            await asyncio.sleep(interval)


async def until_healthy(runner: "asyncio.Task[None]", base_url: str) -> None:
    """Wait for the edge run by `runner` to answer /healthz 200 (fail if the runner died)."""
    async with httpx.AsyncClient(base_url=base_url) as http:
        async def up() -> bool:
            if runner.done():
                runner.result()
            try:
                return (await http.get("/healthz")).status_code == 200
            except httpx.TransportError:
                return False
        await eventually(up, within=60)


@dataclass(frozen=True)
class Pipeline:
    """The services running in this test session, in their own consumer groups."""

    settings: Settings
    base_url: str


@pytest.fixture(scope="session")
async def pipeline(settings: Settings, pool: Pool) -> AsyncIterator[Pipeline]:
    prefix = f"test-{uuid.uuid4().hex[:8]}-"
    s = settings.model_copy(update={"group_prefix": prefix, "http_port": free_port()})
    await prepare(s)
    for group, topic in (("ingest", INGEST), ("upsert", UPSERT), ("imports", IMPORT_CHUNKS),
                         ("commands", COMMANDS), ("attestations", ATTESTATIONS),
                         ("orders", ORDERS)):
        await fast_forward(s.kafka_bootstrap_servers, prefix + group, [topic])
    stop = asyncio.Event()
    runner = asyncio.create_task(run(s, [service(n) for n in ("edge", "ingest", "upsert",
                                                                "imports", "relay",
                                                                "commands", "attestations",
                                                                "orders")],
                        stop))
    base_url = f"http://127.0.0.1:{s.http_port}"
    await until_healthy(runner, base_url)
    yield Pipeline(settings=s, base_url=base_url)
    stop.set()
    await runner


@pytest.fixture(scope="module")
async def fake() -> AsyncIterator["FakeProviders"]:
    """Local SendBlue and Resend (tests/fake_providers.py)."""
    from tests.support.fake_providers import running_providers
    async with running_providers() as f:
        yield f


@pytest.fixture(scope="module")
async def messaging(settings: Settings, pool: Pool, fake: "FakeProviders"
                    ) -> AsyncIterator["Messaging"]:
    """edge + delivery + relay, with the providers pointed at `fake`."""
    from tests.support.messaging_helpers import running_messaging
    async with running_messaging(settings, fake) as m:
        yield m


@pytest.fixture
async def edge_http(messaging: "Messaging") -> AsyncIterator[httpx.AsyncClient]:
    """A client of the messaging edge."""
    async with httpx.AsyncClient(base_url=messaging.base_url) as client:
        yield client

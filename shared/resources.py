"""The composition root: every long-lived resource is built here once and passed in."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiokafka import AIOKafkaProducer
from prometheus_client import CollectorRegistry

from shared.db import Pool, create_pool
from shared.notify import Listener
from shared.publish import create_producer
from shared.settings import Settings

if TYPE_CHECKING:  # FastStream is imported where deps are opened, not by whatever names Deps
    from faststream.kafka import KafkaBroker


@dataclass(frozen=True)
class Deps:
    settings: Settings
    pool: Pool
    broker: "KafkaBroker"      # consumes (FastStream subscribers)
    producer: AIOKafkaProducer  # publishes (results, dead letters, events, commands)
    registry: CollectorRegistry
    read_pool: Pool             # the HTTP API's reads: DATABASE_READ_URL's, else `pool`
    listener: Listener          # LISTEN, on a connection of its own opened on first use

    async def start(self) -> None:
        """Connect to Kafka: the producer first, so handlers can publish from their first batch."""
        await self.producer.start()
        await self.broker.start()


@asynccontextmanager
async def open_deps(settings: Settings) -> AsyncIterator[Deps]:
    """Pool, broker and producer (Kafka is connected by `Deps.start`). On exit the broker stops
    first (in-flight handlers finish and commit), then the producer flushes, then the pool
    closes."""
    from shared.broker import create_broker  # FastStream: not for a command that only names Deps

    registry = CollectorRegistry()
    pool = await create_pool(settings)
    read_pool = (await create_pool(settings, settings.database_read_url)
                 if settings.database_read_url else pool)
    deps = Deps(settings=settings, pool=pool, broker=create_broker(settings, registry),
                producer=create_producer(settings), registry=registry, read_pool=read_pool,
                listener=Listener(settings.database_url))
    try:
        yield deps
    finally:
        try:
            await deps.broker.stop()
            await deps.producer.stop()
        finally:
            await deps.listener.close()
            if read_pool is not pool:
                await read_pool.close()
            await pool.close()

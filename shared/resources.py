"""The composition root: every long-lived resource is built here once and passed in."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from faststream.kafka import KafkaBroker
from prometheus_client import CollectorRegistry

from shared.broker import create_broker
from shared.db import Pool, create_pool
from shared.settings import Settings


@dataclass(frozen=True)
class Deps:
    settings: Settings
    pool: Pool
    broker: KafkaBroker
    registry: CollectorRegistry


@asynccontextmanager
async def open_deps(settings: Settings) -> AsyncIterator[Deps]:
    """Pool and (not yet started) broker. On exit the broker stops first (in-flight handlers
    finish and commit), then the pool closes."""
    registry = CollectorRegistry()
    pool = await create_pool(settings)
    broker = create_broker(settings, registry)
    try:
        yield Deps(settings=settings, pool=pool, broker=broker, registry=registry)
    finally:
        try:
            await broker.stop()
        finally:
            await pool.close()

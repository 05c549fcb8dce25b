"""Publish pending outbox rows, then delete them, in one transaction per round.

A crash between the publish and the commit re-publishes the same events with the same ids:
at least once, and consumers dedupe on the event id.
"""

import asyncio

import asyncpg
import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from services.relay import sql
from shared.db import Pool
from shared.outage import run_until_stopped
from shared.outbox import CHANNEL
from shared.publish import JSON_HEADERS
from shared.resources import Deps
from shared.waiting import first_of

log = structlog.get_logger(__name__)


async def publish_pending(pool: Pool, producer: AIOKafkaProducer, limit: int) -> int:
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(sql.CLAIM, limit)
        if not rows:
            return 0
        futures = [await producer.send(r["topic"], r["payload"].encode(), key=r["key"].encode(),
                                       headers=[*JSON_HEADERS,
                                                ("event-id", str(r["event_id"]).encode())])
                   for r in rows]
        await asyncio.gather(*futures)
        await conn.execute(sql.DELETE, [r["seq"] for r in rows])
    return len(rows)


async def run_relay(deps: Deps, stop: asyncio.Event) -> None:
    """Until `stop`: lead when the lock is free, else stand by; survive outages."""
    await run_until_stopped("relay", stop, lambda: _lead(deps, stop),
                            (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, KafkaError))


async def _lead(deps: Deps, stop: asyncio.Event) -> None:
    settings = deps.settings
    conn = await asyncpg.connect(settings.database_url)  # holds the lock and the LISTEN
    try:
        while not await conn.fetchval(sql.TRY_LEAD, sql.LEADER_LOCK_KEY):
            await first_of(stop, within=settings.relay_idle_poll_s * 5)
            if stop.is_set():
                return
        wake = asyncio.Event()
        await conn.add_listener(CHANNEL, lambda *_: wake.set())
        log.info("relay leading")
        while not stop.is_set():
            wake.clear()
            sent = await publish_pending(deps.pool, deps.producer, settings.relay_batch_size)
            if sent < settings.relay_batch_size:
                await first_of(stop, wake, within=settings.relay_idle_poll_s)
    finally:
        await conn.close()  # closing the session releases the lock


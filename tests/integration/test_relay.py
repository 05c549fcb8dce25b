"""Invariant 3: the outbox relay publishes at least once, with a stable event id, one leader."""

import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from services.relay import logic as relay
from services.relay import sql
from shared.db import Pool
from shared.outbox import CHANNEL, add_events, client_event
from shared.publish import create_producer
from shared.settings import Settings
from shared.topics import EVENTS
from tests.conftest import eventually
from tests.support.kafka_helpers import Watcher


def snapshot(store_id: uuid.UUID) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {"id": uuid.uuid4(), "store_id": store_id, "name": "R", "first_name": None,
            "last_name": None, "email": "r@shop.com", "phone": None, "company": None,
            "type": "retail", "tags": [], "notes": None, "external_ids": {},
            "source_label": None, "source_external_id": None, "source_integration_key_id": None,
            "created_at": now, "updated_at": now, "version": 1, "status": "ACTIVE",
            "credit_limit": None}


async def test_a_round_that_fails_after_publishing_publishes_the_same_ids_again(
        settings: Settings, private_pool: Pool, monkeypatch: pytest.MonkeyPatch) -> None:
    store_id = uuid.uuid4()
    events = [client_event("client.created", snapshot(store_id), datetime.now(UTC))
              for _ in range(3)]
    async with private_pool.acquire() as conn, conn.transaction():
        await conn.execute("INSERT INTO stores (id, name) VALUES ($1, 'relay test')", store_id)
        await add_events(conn, events)
    producer = create_producer(settings)
    await producer.start()
    try:
        async with Watcher(settings.kafka_bootstrap_servers, EVENTS) as watcher:
            mine = lambda v: v["store_id"] == str(store_id)  # noqa: E731
            monkeypatch.setattr(sql, "DELETE", "SELECT 1/0 WHERE $1::bigint[] IS NOT NULL")
            with pytest.raises(asyncpg.DivisionByZeroError):  # published, then the round failed
                await relay.publish_pending(private_pool, producer, limit=100)
            monkeypatch.undo()
            assert await relay.publish_pending(private_pool, producer, limit=100) == 3
            got = await watcher.take(mine, count=6)
            assert await relay.publish_pending(private_pool, producer, limit=100) == 0
    finally:
        await producer.stop()
    ids = [v["id"] for v in got]
    assert sorted(ids) == sorted([str(e.id) for e in events] * 2)  # at least once, same ids
    assert {r.key for r in watcher.records(mine)} == {str(e.client.id).encode() for e in events}
    assert all(json.loads(r.value)["type"] == "client.created" for r in watcher.records(mine))


async def test_only_one_relay_leads_and_a_standby_takes_over(private_database: str) -> None:
    first = await asyncpg.connect(private_database)
    second = await asyncpg.connect(private_database)
    try:
        assert await first.fetchval(sql.TRY_LEAD, sql.LEADER_LOCK_KEY) is True
        assert await second.fetchval(sql.TRY_LEAD, sql.LEADER_LOCK_KEY) is False
        await first.close()  # the leader goes (its session, and so its lock, ends)

        async def took_over() -> bool:
            return bool(await second.fetchval(sql.TRY_LEAD, sql.LEADER_LOCK_KEY))
        await eventually(took_over, within=10, interval=0.05)
    finally:
        for c in (first, second):
            if not c.is_closed():
                await c.close()


async def test_events_added_wake_the_relay_when_their_transaction_commits(
        private_pool: Pool, private_database: str) -> None:
    """The relay sleeps up to RELAY_IDLE_POLL_S between rounds unless woken: new events must
    wake it, or each would wait out the sleep."""
    store_id = uuid.uuid4()
    listener = await asyncpg.connect(private_database)
    woken = asyncio.Event()
    await listener.add_listener(CHANNEL, lambda *_: woken.set())
    try:
        async with private_pool.acquire() as conn, conn.transaction():
            await conn.execute("INSERT INTO stores (id, name) VALUES ($1, 'wake test')", store_id)
            await add_events(conn, [client_event("client.created", snapshot(store_id),
                                                 datetime.now(UTC))])
        await asyncio.wait_for(woken.wait(), timeout=30)
    finally:
        await listener.close()

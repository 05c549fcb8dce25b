"""Invariant 5: a worker killed mid-stream (SIGKILL: no clean shutdown, no final commit) loses
nothing, and its replacement writes nothing twice."""

import asyncio
import os
import signal
import sys
import uuid

from shared import stores
from shared.db import Pool
from shared.settings import Settings
from shared.topics import INGEST, UPSERT
from tests.conftest import eventually
from tests.support.kafka_helpers import fast_forward, produce


async def start_worker(prefix: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.cli", "run", "ingest", "upsert", "relay",
        env={**os.environ, "GROUP_PREFIX": prefix, "LOG_LEVEL": "WARNING",
             "INGEST_BATCH_SIZE": "50", "UPSERT_BATCH_SIZE": "50"},
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)


async def test_a_killed_worker_loses_nothing_and_writes_nothing_twice(
        settings: Settings, pool: Pool, store: stores.Store) -> None:
    bootstrap = settings.kafka_bootstrap_servers
    key = await stores.create_key(pool, store.id, "Crash")
    prefix = f"crash-{uuid.uuid4().hex[:8]}-"
    for group, topic in (("ingest", INGEST), ("upsert", UPSERT)):
        await fast_forward(bootstrap, prefix + group, [topic])
    n = 8000
    records = [{"integration_key": key.token, "request_id": f"crash-{i}", "name": f"P {i}",
                "email": f"p{i % 6000}@crash.example.com"} for i in range(n)]  # 2000 repeats

    async def touched() -> int:
        got = await pool.fetchval("SELECT count(*) FROM client_touches WHERE store_id = $1",
                                  store.id)
        return int(got)

    async def under_way() -> bool:
        return await touched() >= 100

    async def all_resolved() -> bool:
        return await touched() == n

    worker = await start_worker(prefix)
    try:
        await produce(bootstrap, INGEST, records, keys=[r["request_id"] for r in records])
        await eventually(under_way, within=60, interval=0.01)
        worker.send_signal(signal.SIGKILL)  # gone mid-stream, without a goodbye
        await worker.wait()
        assert await touched() < n, "the worker finished before it was killed: kill it sooner"
        worker = await start_worker(prefix)
        await eventually(all_resolved, within=90, interval=0.5)
    finally:
        worker.send_signal(signal.SIGTERM)
        await worker.wait()

    rows = await pool.fetchval("SELECT count(*) FROM clients WHERE store_id = $1", store.id)
    assert rows == 6000                      # one client per person, whatever was redone
    rows_by_outcome = await pool.fetch("SELECT outcome, count(*) AS n FROM client_touches "
                                       "WHERE store_id = $1 GROUP BY outcome", store.id)
    outcomes = {r["outcome"]: r["n"] for r in rows_by_outcome}
    assert outcomes == {"created": 6000, "matched_email": 2000}

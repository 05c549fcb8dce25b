"""Two upsert consumers in one group, in two processes: one row per person (invariant 2) and one
client per (integration key, external id) (invariant 9), whatever partition each record is on."""

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from schemas.upsert import UpsertCommand
from services.upsert.handlers import GROUP
from shared import stores
from shared.db import Pool
from shared.normalize import email_key
from shared.topics import UPSERT, UPSERT_RESULTS
from tests.conftest import Pipeline, eventually
from tests.support.kafka_helpers import Watcher, group_members, partitions_of, produce


@asynccontextmanager
async def second_upsert_process(pipeline: Pipeline) -> AsyncIterator[None]:
    """`clients run upsert` in another process, in the pipeline's group, until the block ends."""
    s = pipeline.settings
    second = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.cli", "run", "upsert",
        env={**os.environ, "GROUP_PREFIX": s.group_prefix, "LOG_FORMAT": "json"},
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    try:
        async def both_joined() -> bool:
            return await group_members(s.kafka_bootstrap_servers, s.group_prefix + GROUP) == 2
        await eventually(both_joined, within=60, interval=0.5)
        yield
    finally:
        second.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(second.communicate(), timeout=30)
    assert second.returncode == 0, err.decode()[-2000:]


async def resolved(pipeline: Pipeline, store: stores.Store, commands: list[dict[str, Any]],
                   partitions: list[int]) -> list[dict[str, Any]]:
    """Publish each command to its partition; every result of the store's, once all are in."""
    s = pipeline.settings
    async with Watcher(s.kafka_bootstrap_servers, UPSERT_RESULTS) as results:
        await produce(s.kafka_bootstrap_servers, UPSERT, commands, partitions=partitions)
        got: list[dict[str, Any]] = await results.take(
            lambda v: v.get("store_id") == str(store.id), count=len(commands), within=90)
    return got


async def test_two_consumers_in_two_processes_make_one_row_per_person(
        pipeline: Pipeline, pool: Pool, store: stores.Store) -> None:
    s = pipeline.settings
    async with second_upsert_process(pipeline):
        partitions = [tp.partition for tp in await partitions_of(s.kafka_bootstrap_servers,
                                                                 UPSERT)]
        people = [f"Person{i}@Race.example.com" for i in range(30)]
        now = datetime.now(UTC)
        commands, targets = [], []
        for p in partitions:          # every person once on every partition
            for i, email in enumerate(people):
                commands.append(UpsertCommand(
                    request_id=f"race-{store.id}-{p}-{i}", store_id=store.id, email=email,
                    email_key=email_key(email), name=f"Person {i}", received_at=now,
                ).model_dump(mode="json"))
                targets.append(p)
        got = await resolved(pipeline, store, commands, targets)

    rows = await pool.fetch("SELECT email_key, count(*) AS n FROM clients WHERE store_id = $1 "
                            "GROUP BY email_key", store.id)
    assert {r["email_key"]: r["n"] for r in rows} == {email_key(e): 1 for e in people}
    outcomes = [g["outcome"] for g in got]
    assert outcomes.count("created") == len(people)
    assert outcomes.count("matched_email") == len(people) * (len(partitions) - 1)


async def test_two_processes_make_one_client_per_external_id(
        pipeline: Pipeline, pool: Pool, store: stores.Store) -> None:
    """Pairs with one external id and two emails, each half of a pair on a partition the other
    process owns: the database decides, so each pair is one client."""
    s = pipeline.settings
    key = await stores.create_key(pool, store.id, "Shopify")
    async with second_upsert_process(pipeline):
        partitions = sorted(tp.partition for tp in await partitions_of(
            s.kafka_bootstrap_servers, UPSERT))
        pairs, now = 600, datetime.now(UTC)
        commands, targets = [], []
        for i in range(pairs):
            for half in (0, 1):
                email = f"p{i}-{half}@pairs.example.com"
                commands.append(UpsertCommand(
                    request_id=f"pair-{i}-{half}", store_id=store.id, integration_key_id=key.id,
                    external_id=f"ext-{i}", email=email, email_key=email, name=f"Pair {i}",
                    received_at=now).model_dump(mode="json"))
                targets.append(partitions[(i + half * len(partitions) // 2) % len(partitions)])
        got = await resolved(pipeline, store, commands, targets)

    live = await pool.fetchval("SELECT count(*) FROM clients WHERE store_id = $1 "
                               "AND deleted_at IS NULL", store.id)
    assert live == pairs
    by_request = {g["request_id"]: g["client_id"] for g in got}
    assert all(by_request[f"pair-{i}-0"] == by_request[f"pair-{i}-1"] for i in range(pairs))
    assert sorted(g["outcome"] for g in got).count("created") == pairs

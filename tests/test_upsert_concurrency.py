"""Two upsert consumers in one group, in two processes, the same people on every partition:
one row per person (invariant 2)."""

import asyncio
import os
import signal
import sys
from datetime import UTC, datetime

from schemas.upsert import UpsertCommand
from services.upsert.handlers import GROUP
from shared import stores
from shared.db import Pool
from shared.normalize import email_key
from shared.topics import UPSERT, UPSERT_RESULTS
from tests.conftest import Pipeline, eventually
from tests.kafka_helpers import Watcher, group_members, partitions_of, produce


async def test_two_consumers_in_two_processes_make_one_row_per_person(
        pipeline: Pipeline, pool: Pool, store: stores.Store) -> None:
    s = pipeline.settings
    group = s.group_prefix + GROUP
    second = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.cli", "run", "upsert",
        env={**os.environ, "GROUP_PREFIX": s.group_prefix, "LOG_FORMAT": "json"},
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    try:
        async def both_joined() -> bool:
            return await group_members(s.kafka_bootstrap_servers, group) == 2
        await eventually(both_joined, within=60, interval=0.5)

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
        async with Watcher(s.kafka_bootstrap_servers, UPSERT_RESULTS) as results:
            await produce(s.kafka_bootstrap_servers, UPSERT, commands, partitions=targets)
            got = await results.take(lambda v: v.get("store_id") == str(store.id),
                                     count=len(commands), within=60)
    finally:
        second.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(second.communicate(), timeout=30)
    assert second.returncode == 0, err.decode()[-2000:]

    rows = await pool.fetch("SELECT email_key, count(*) AS n FROM clients WHERE store_id = $1 "
                            "GROUP BY email_key", store.id)
    assert {r["email_key"]: r["n"] for r in rows} == {email_key(e): 1 for e in people}
    outcomes = [g["outcome"] for g in got]
    assert outcomes.count("created") == len(people)
    assert outcomes.count("matched_email") == len(people) * (len(partitions) - 1)

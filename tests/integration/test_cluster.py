"""Scale-out on a real three-broker KRaft cluster (hardening issue): topics replicated 3 ways
with min.insync.replicas 2, producers acks=all with idempotence. One broker is killed with SIGKILL
in the middle of 20,000 records and restarted: every record has its result, one row per email,
one client.created per client.

The cluster is this test's own (deploy/local/kafka.sh with KAFKA_NODES=3, in
.local/kafka-cluster-test on ports 29092-29097), started once for the module; a database of its
own keeps the outbox relay of other tests away from its events."""

import asyncio
import json
import os
import signal
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from services.registry import service
from shared import stores
from shared.db import create_pool
from shared.runner import prepare, run
from shared.settings import Settings, servers
from shared.topics import EVENTS, INGEST, UPSERT, UPSERT_RESULTS
from tests.conftest import eventually, free_port, scratch_database_url
from tests.support.kafka_helpers import admin_client, fast_forward, partitions_of

ROOT = Path(__file__).resolve().parents[2]
STATE = ROOT / ".local" / "kafka-cluster-test"
PORTS = (29092, 29094, 29096)
RECORDS, PEOPLE = 20_000, 15_000


@dataclass(frozen=True)
class Cluster:
    bootstrap: str
    env: dict[str, str]


async def kafka_sh(env: dict[str, str], command: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        str(ROOT / "deploy" / "local" / "kafka.sh"), command, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=300)
    assert proc.returncode == 0, out.decode()[-3000:]


@pytest.fixture(scope="module")
async def cluster() -> AsyncIterator[Cluster]:
    env = {k: v for k, v in os.environ.items() if k != "KAFKA_BOOTSTRAP_SERVERS"}
    env |= {"KAFKA_NODES": "3", "KAFKA_STATE_DIR": str(STATE),
            "KAFKA_LOCAL_PORT": str(PORTS[0]), "KAFKA_LOCAL_CONTROLLER_PORT": str(PORTS[0] + 1)}
    await kafka_sh(env, "up")
    try:
        yield Cluster(",".join(f"127.0.0.1:{p}" for p in PORTS), env)
    finally:
        await kafka_sh(env, "down")


class Collector:
    """Reads a topic from its current end, each record parsed once, until stopped."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap, self.topic = bootstrap, topic
        self.values: list[dict[str, Any]] = []
        self.consumer = AIOKafkaConsumer(bootstrap_servers=servers(bootstrap),
                                         enable_auto_commit=False)
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> "Collector":
        await self.consumer.start()
        tps = await partitions_of(self.bootstrap, self.topic)
        self.consumer.assign(tps)
        await self.consumer.seek_to_end(*tps)
        for tp in tps:
            await self.consumer.position(tp)
        self.task = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        while True:
            for records in (await self.consumer.getmany(timeout_ms=200)).values():
                self.values.extend(json.loads(r.value or b"null") for r in records)

    async def __aexit__(self, *exc: object) -> None:
        assert self.task is not None
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        await self.consumer.stop()


def records(token: str, run: str) -> list[bytes]:
    """15,000 people; the last 5,000 records repeat earlier ones' emails in upper case."""
    out = []
    for i in range(RECORDS):
        email = f"person{i % PEOPLE}@cluster.example.com"
        out.append(json.dumps({"integration_key": token, "request_id": f"{run}-{i}",
                               "name": f"Person {i % PEOPLE}",
                               "email": email.upper() if i >= PEOPLE else email}).encode())
    return out


async def leader_of(bootstrap: str, topic: str, partition: int) -> int:
    async with admin_client(bootstrap) as admin:
        (described,) = await admin.describe_topics([topic])
    (p,) = [p for p in described["partitions"] if p["partition"] == partition]
    leader: int = p["leader"]
    return leader


async def test_a_broker_killed_mid_stream_loses_nothing_and_duplicates_nothing(
        cluster: Cluster, settings: Settings) -> None:
    async with scratch_database_url(settings) as database_url:
        s = settings.model_copy(update={
            "kafka_bootstrap_servers": cluster.bootstrap, "database_url": database_url,
            "group_prefix": f"cluster-{uuid.uuid4().hex[:8]}-", "http_port": free_port()})
        await prepare(s)
        for group, topic in (("ingest", INGEST), ("upsert", UPSERT)):  # earlier runs' records
            await fast_forward(cluster.bootstrap, s.group_prefix + group, [topic])
        async with admin_client(cluster.bootstrap) as admin:
            described = await admin.describe_topics([INGEST, UPSERT, EVENTS])
        assert {len(p["replicas"]) for t in described for p in t["partitions"]} == {3}
        pool = await create_pool(s)
        try:
            store = await stores.create_store(pool, "cluster store")
            key = await stores.create_key(pool, store.id, "cluster")
            stop = asyncio.Event()
            runner = asyncio.create_task(run(s, [service(n) for n in (
                "ingest", "upsert", "relay")], stop))
            producer = AIOKafkaProducer(bootstrap_servers=servers(cluster.bootstrap), acks="all",
                                        enable_idempotence=True, linger_ms=5)
            await producer.start()
            try:
                async with Collector(cluster.bootstrap, UPSERT_RESULTS) as results, \
                        Collector(cluster.bootstrap, EVENTS) as events:
                    values = records(key.token, uuid.uuid4().hex[:8])
                    victim = await leader_of(cluster.bootstrap, UPSERT, 0)
                    half = RECORDS // 2
                    await asyncio.gather(*[await producer.send(INGEST, v) for v in values[:half]])
                    # mid-stream: the pipeline is at work on the first half when a broker dies
                    await eventually(lambda: len(results.values) >= 2_000, within=120)
                    pidfile = STATE / f"node{victim}" / "kafka.pid"
                    os.kill(int(pidfile.read_text()), signal.SIGKILL)
                    await asyncio.gather(*[await producer.send(INGEST, v) for v in values[half:]])
                    await kafka_sh(cluster.env, "up")       # restarts the killed node
                    mine = str(store.id)
                    await eventually(lambda: len({r["request_id"] for r in results.values
                                                  if r["store_id"] == mine}) >= RECORDS,
                                     within=240, interval=0.5)
                    await eventually(lambda: len({e["id"] for e in events.values
                                                  if e["type"] == "client.created"
                                                  and e["store_id"] == mine}) >= PEOPLE,
                                     within=120, interval=0.5)
            finally:
                await producer.stop()
                stop.set()
                await runner

            ours = [r for r in results.values if r["store_id"] == str(store.id)]
            by_request: dict[str, set[tuple[Any, ...]]] = defaultdict(set)
            for r in ours:
                by_request[r["request_id"]].add((r["client_id"], r["outcome"]))
            assert len(by_request) == RECORDS                         # every record answered
            assert all(len(v) == 1 for v in by_request.values())      # and answered one way
            assert sum(o == "created" for ((_, o),) in by_request.values()) == PEOPLE
            print(f"results on the topic: {len(ours)} for {RECORDS} records")

            rows = await pool.fetch("SELECT email_key, count(*) AS n FROM clients "
                                    "WHERE store_id = $1 GROUP BY email_key", store.id)
            assert len(rows) == PEOPLE
            assert {r["n"] for r in rows} == {1}                      # one row per email

            created: dict[str, set[str]] = defaultdict(set)
            for e in events.values:
                if e["type"] == "client.created" and e["store_id"] == str(store.id):
                    created[e["client"]["id"]].add(e["id"])
            assert len(created) == PEOPLE
            assert all(len(ids) == 1 for ids in created.values())     # one client.created each
        finally:
            await pool.close()

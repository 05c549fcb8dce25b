"""Ingest -> upsert -> relay throughput and latency, beside raw baselines from the same run.

    python -m bench.ingest [--records 100000] [--workers 2] [--steady-rate 2000 500]
                           [--profile DIR]

Runs `--workers` processes of `clients run ingest upsert relay` in consumer groups of their own,
then these phases with them:
1. throughput: N records published at once to clients.ingest.v1 (about 70% new people, 20% email
   duplicates in case and whitespace variants, 10% repeated external ids with another email);
   sustained msgs/s until every result and event is out. Latency here is mostly queueing. The
   CPU each side used meanwhile: the workers, PostgreSQL, the Kafka broker.
2. latency, at each steady rate: five seconds of records (at most N/10), each sent at its time;
   p50/p99 from publish to result. The first rate is the target's; the second one the pipeline
   keeps up with, so its latency is the path's own and not a queue's.
Prints peak RSS of each process and two baselines measured now on the same machine: COPY of the
same rows into a scratch table, and plain aiokafka produce + consume of N messages.
"""

import argparse
import asyncio
import json
import os
import random
import resource
import signal
import statistics
import sys
import time
import uuid
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench._cpu import CpuMeter, cpu_line, kafka_pids, postgres_pids
from shared import stores
from shared.db import create_pool
from shared.runner import prepare
from shared.settings import Settings, servers
from shared.topics import EVENTS, INGEST, UPSERT, UPSERT_RESULTS, TopicSpec, ensure_topics
from tests.support.kafka_helpers import admin_client, fast_forward, group_members

FIRST = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Margaret", "Ken", "Frances",
         "John", "Radia", "Dennis", "Katherine", "Linus", "Guido", "Anita", "Niklaus", "Sophie"]
LAST = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Hamilton", "Thompson",
        "Allen", "McCarthy", "Perlman", "Ritchie", "Johnson", "Torvalds", "van Rossum", "Borg"]
DOMAINS = ["example.com", "mail.example.org", "labs.example.net", "shop.example.io"]


def make_records(n: int, token: str, seed: int = 7, prefix: str = "bench") -> list[dict[str, Any]]:
    rng = random.Random(seed)
    records: list[dict[str, Any]] = []
    people: list[dict[str, Any]] = []
    for i in range(n):
        roll = rng.random()
        if people and roll < 0.20:   # the same email again, cased and padded differently
            p = rng.choice(people)
            email = rng.choice([p["email"].upper(), f"  {p['email']} ", p["email"].title()])
            rec = {"email": email, "name": p["name"]}
        elif people and roll < 0.30:  # an external id seen before, with another email
            p = rng.choice(people)
            rec = {"external_id": p["external_id"], "email": f"moved.{prefix}{i}@{DOMAINS[0]}",
                   "name": p["name"]}
        else:
            first, last = rng.choice(FIRST), rng.choice(LAST)
            email = f"{first}.{last}.{prefix}{i}@{rng.choice(DOMAINS)}".lower().replace(" ", "")
            rec = {"email": email, "name": f"{first} {last}", "external_id": f"{prefix}-ext-{i}",
                   "phone": f"+1415{rng.randrange(10**6, 10**7)}",
                   "tags": rng.sample(["vip", "wholesale", "net-30", "lab"], 2)}
            people.append(rec)
        records.append({"integration_key": token, "request_id": f"{prefix}-{i}", **rec})
    return records


def peak_rss_mb(pid: int | None = None) -> float:
    if pid is None:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


async def tail(bootstrap: str, topic: str) -> AIOKafkaConsumer:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=servers(bootstrap),
                                auto_offset_reset="latest",
                                enable_auto_commit=False, group_id=f"bench-tail-{uuid.uuid4()}",
                                max_poll_records=5000, fetch_max_bytes=50 * 2**20)
    await consumer.start()
    while not consumer.assignment():  # noqa: ASYNC110 - aiokafka offers no event for it
        await asyncio.sleep(0.05)
    for tp in consumer.assignment():
        await consumer.position(tp)
    return consumer


async def run_pipeline(settings: Settings, phases: list[tuple[list[dict[str, Any]], float]],
                       workers: int, store_id: uuid.UUID, profile: str | None = None
                       ) -> list[dict[str, Any]]:
    """Start the workers, then run each (records, rate) phase; rate 0 = all at once."""
    bootstrap = settings.kafka_bootstrap_servers
    prefix = f"bench-{uuid.uuid4().hex[:8]}-"
    for group, topic in (("ingest", INGEST), ("upsert", UPSERT)):
        await fast_forward(bootstrap, prefix + group, [topic])
    env = {**os.environ, "GROUP_PREFIX": prefix, "LOG_LEVEL": "WARNING", "LOG_FORMAT": "json"}
    procs = [await asyncio.create_subprocess_exec(
        sys.executable, *profiled(profile, i), "-m", "services.cli", "run", "ingest", "upsert",
        "relay", env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        for i in range(workers)]
    try:
        deadline = time.monotonic() + 90
        while not (await group_members(bootstrap, prefix + "ingest") == workers
                   and await group_members(bootstrap, prefix + "upsert") == workers):
            if time.monotonic() > deadline:
                raise RuntimeError("workers did not join their groups")
            await asyncio.sleep(0.3)
        figures = [await measure(settings, records, rate, store_id, [p.pid for p in procs])
                   for records, rate in phases]
        for f in figures:
            f["worker_peak_rss_mb"] = [peak_rss_mb(p.pid) for p in procs]
    finally:
        for p in procs:
            if p.returncode is None:
                p.send_signal(signal.SIGTERM)
        await asyncio.gather(*(p.wait() for p in procs))
    return figures


def profiled(directory: str | None, worker: int) -> list[str]:
    """cProfile's arguments for a worker (its profile written when it stops), or none."""
    if directory is None:
        return []
    os.makedirs(directory, exist_ok=True)
    return ["-m", "cProfile", "-o", os.path.join(directory, f"worker-{worker}.prof")]


async def measure(settings: Settings, records: list[dict[str, Any]], rate: float,
                  store_id: uuid.UUID, workers: list[int]) -> dict[str, Any]:
    bootstrap = settings.kafka_bootstrap_servers
    results, events = await tail(bootstrap, UPSERT_RESULTS), await tail(bootstrap, EVENTS)
    sent_at: dict[str, float] = {}
    latencies: list[float] = []
    outcomes: dict[str, int] = {}
    producer = AIOKafkaProducer(bootstrap_servers=servers(bootstrap), linger_ms=5,
                                max_batch_size=256 * 1024)
    await producer.start()

    async def collect_results() -> None:  # runs while we publish: a result is timed on arrival
        while len(latencies) < len(records):
            for batch in (await results.getmany(timeout_ms=50)).values():
                now = time.perf_counter()
                for r in batch:
                    v = json.loads(r.value)
                    if v["request_id"] in sent_at and v.get("store_id") == str(store_id):
                        latencies.append(now - sent_at.pop(v["request_id"]))
                        outcomes[v["outcome"]] = outcomes.get(v["outcome"], 0) + 1

    collecting = asyncio.create_task(collect_results())
    meter = CpuMeter(workers=lambda: workers, postgres=postgres_pids, kafka=kafka_pids)
    start = time.perf_counter()
    for i, rec in enumerate(records):
        if rate and (ahead := start + i / rate - time.perf_counter()) > 0:
            await asyncio.sleep(ahead)  # each record at its time, not in bursts
        sent_at[rec["request_id"]] = time.perf_counter()
        await producer.send(INGEST, json.dumps(rec).encode(), key=rec["request_id"].encode())
    await producer.flush()
    published = time.perf_counter() - start
    await asyncio.wait_for(collecting, timeout=900)
    results_done = time.perf_counter() - start
    pool = await asyncpg.connect(settings.database_url)
    event_count = 0
    while True:  # events: until the outbox is empty and the topic read to its end
        for batch in (await events.getmany(timeout_ms=200)).values():
            event_count += sum(1 for r in batch
                               if json.loads(r.value)["store_id"] == str(store_id))
        left = await pool.fetchval("SELECT count(*) FROM outbox")
        ends = await events.end_offsets(list(events.assignment()))
        caught_up = all([await events.position(tp) >= end for tp, end in ends.items()])
        if left == 0 and caught_up:
            break
    events_done = time.perf_counter() - start
    cpu = meter.used()
    await pool.close()
    await producer.stop()
    await results.stop()
    await events.stop()
    lat = sorted(latencies)
    return {"n": len(records), "published_s": published, "results_s": results_done,
            "all_out_s": events_done, "events": event_count, "outcomes": outcomes, "cpu_s": cpu,
            "p50_ms": statistics.median(lat) * 1000, "p99_ms": lat[int(len(lat) * 0.99)] * 1000}


async def baseline_copy(settings: Settings, records: list[dict[str, Any]]) -> float:
    conn = await asyncpg.connect(settings.database_url)
    try:
        await conn.execute("CREATE TEMP TABLE bench_copy (request_id text, email text, "
                           "name text, external_id text, phone text, tags text[])")
        rows = [(r["request_id"], r.get("email"), r.get("name"), r.get("external_id"),
                 r.get("phone"), r.get("tags", [])) for r in records]
        start = time.perf_counter()
        await conn.copy_records_to_table("bench_copy", records=rows)
        return time.perf_counter() - start
    finally:
        await conn.close()


async def baseline_kafka(settings: Settings, records: list[dict[str, Any]]) -> float:
    bootstrap = settings.kafka_bootstrap_servers
    topic = f"bench.raw.{uuid.uuid4().hex[:8]}"
    await ensure_topics(bootstrap, [TopicSpec(topic, settings.topic_partitions)])
    payloads = [json.dumps(r).encode() for r in records]
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=servers(bootstrap),
                                auto_offset_reset="earliest",
                                group_id=f"bench-raw-{uuid.uuid4()}", max_poll_records=5000,
                                fetch_max_bytes=50 * 2**20)
    producer = AIOKafkaProducer(bootstrap_servers=servers(bootstrap), linger_ms=5,
                                max_batch_size=256 * 1024)
    await consumer.start()
    await producer.start()
    try:
        start = time.perf_counter()
        for i, p in enumerate(payloads):
            await producer.send(topic, p, key=str(i).encode())
        await producer.flush()
        got = 0
        while got < len(payloads):
            for batch in (await consumer.getmany(timeout_ms=200)).values():
                got += sum(1 for r in batch if json.loads(r.value))
        return time.perf_counter() - start
    finally:
        await producer.stop()
        await consumer.stop()
        async with admin_client(bootstrap) as admin:
            await admin.delete_topics([topic])


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--steady-rate", type=float, nargs="+", default=[2000, 500],
                        help="records/s of each latency phase (the target's rate, and a quiet "
                             "one the pipeline keeps up with)")
    parser.add_argument("--profile", metavar="DIR",
                        help="run the workers under cProfile, writing DIR/worker-N.prof")
    args = parser.parse_args()
    settings = Settings()
    await prepare(settings)
    pool = await create_pool(settings)
    store = await stores.create_store(pool, f"bench {uuid.uuid4().hex[:6]}")
    key = await stores.create_key(pool, store.id, "bench")
    records = make_records(args.records, key.token)
    steady = [(make_records(max(1, min(args.records // 10, int(rate * 5))), key.token,
                            seed=11 + i, prefix=f"steady{i}"), rate)
              for i, rate in enumerate(args.steady_rate)]
    n = len(records)

    copy_s = await baseline_copy(settings, records)
    kafka_s = await baseline_kafka(settings, records)
    burst, *paced = await run_pipeline(settings, [(records, 0), *steady], args.workers,
                                       store.id, args.profile)
    clients = await pool.fetchval("SELECT count(*) FROM clients WHERE store_id = $1", store.id)
    await pool.close()

    print(f"ingest bench: {n} records, {args.workers} worker process(es), "
          f"{os.cpu_count()} cores; Kafka and PostgreSQL on this machine")
    print(f"  throughput phase: {n} records published at once")
    print(f"    outcomes          {burst['outcomes']}  events={burst['events']}")
    print(f"    publish           {burst['published_s']:.2f} s")
    print(f"    all results out   {burst['results_s']:.2f} s   "
          f"{n / burst['results_s']:,.0f} msgs/s")
    print(f"    all events out    {burst['all_out_s']:.2f} s   {n / burst['all_out_s']:,.0f} "
          "msgs/s (sustained, first publish to last event) = "
          f"{kafka_s / burst['all_out_s']:.3f}x plain aiokafka")
    print(f"    publish->result   p50 {burst['p50_ms']:.0f} ms   p99 {burst['p99_ms']:.0f} ms "
          "(queueing behind the burst)")
    print(f"    CPU               {cpu_line(burst['cpu_s'], n, 'record', burst['all_out_s'])}")
    for phase, rate in zip(paced, args.steady_rate, strict=True):
        print(f"  latency phase: {phase['n']} records at {rate:,.0f}/s")
        print(f"    publish->result   p50 {phase['p50_ms']:.0f} ms   p99 {phase['p99_ms']:.0f} ms")
    print(f"  clients in the store: {clients}")
    rss = [round(r) for r in paced[-1]["worker_peak_rss_mb"]]
    print(f"  peak RSS            workers {rss} MB, "
          f"bench {peak_rss_mb():.0f} MB")
    print("  baselines (same run, same rows):")
    print(f"    COPY into a scratch table          {copy_s:.2f} s   {n / copy_s:,.0f} rows/s")
    print(f"    aiokafka produce + consume         {kafka_s:.2f} s   {n / kafka_s:,.0f} msgs/s")


if __name__ == "__main__":
    asyncio.run(main())

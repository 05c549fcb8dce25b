"""Orders into stats, and the daily segment job, beside raw baselines from the same run.

    python -m bench.orders [--orders 50000] [--customers 10000] [--workers 1]
                           [--segment-clients 1000000] [--moving 0.1] [--profile DIR]

1. Order events: `--workers` processes of `clients run orders` in consumer groups of their own;
   N events published at once (about 60% order.placed for `--customers` people, 30% paid, 5%
   refunded, 5% cancelled), sustained events/s until every one is recorded with the clients'
   stats, versions, audit entries and events written. Baseline: plain aiokafka produce +
   consume of the same N payloads.
2. The segment job over `--segment-clients` clients with orders in one store (a database
   `<DATABASE_URL's>_bench_orders`, built once), `--moving` of them due to move: seconds for the
   job (audit entries and events included), beside the bare UPDATE of the same rows' segment.
Prints peak RSS of the workers and of this process.
"""

import argparse
import asyncio
import json
import os
import random
import signal
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaProducer

from bench._cpu import CpuMeter, cpu_line, postgres_pids
from bench._scratch import scratch_database
from bench.ingest import baseline_kafka, peak_rss_mb, profiled
from services.orders.segments import move_segments
from shared import stores
from shared.db import create_pool
from shared.runner import prepare
from shared.settings import Settings, servers
from shared.stats import Rules
from shared.topics import ORDERS
from tests.support.kafka_helpers import consumed_to_end, fast_forward, group_members


def make_events(store_id: uuid.UUID, n: int, customers: int, seed: int = 5
                ) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    t0 = datetime.now(UTC) - timedelta(days=60)
    placed: list[str] = []
    events: list[dict[str, Any]] = []
    for i in range(n):
        roll = rng.random()
        at = (t0 + timedelta(seconds=i)).isoformat()
        base = {"store_id": str(store_id), "occurred_at": at, "currency": "USD"}
        if not placed or roll < 0.6:
            order_id = f"o-{i}"
            person = rng.randrange(customers)
            placed.append(order_id)
            events.append({**base, "type": "order.placed", "order_id": order_id,
                           "total_minor": rng.randrange(500, 50_000),
                           "customer": {"email": f"buyer{person}@bench-orders.example",
                                        "name": f"Buyer {person}"},
                           "shipping_address": {"address1": f"{person} Main St",
                                                "city": "Springfield"}})
        elif roll < 0.9:
            events.append({**base, "type": "order.paid", "order_id": rng.choice(placed)})
        elif roll < 0.95:
            events.append({**base, "type": "order.refunded", "order_id": rng.choice(placed),
                           "refunded_minor": rng.randrange(100, 500)})
        else:
            events.append({**base, "type": "order.cancelled", "order_id": rng.choice(placed)})
    return events


async def run_orders(settings: Settings, events: list[dict[str, Any]], workers: int,
                     store_id: uuid.UUID, profile: str | None = None) -> dict[str, Any]:
    bootstrap = settings.kafka_bootstrap_servers
    prefix = f"bench-{uuid.uuid4().hex[:8]}-"
    await fast_forward(bootstrap, prefix + "orders", [ORDERS])
    env = {**os.environ, "GROUP_PREFIX": prefix, "LOG_LEVEL": "WARNING", "LOG_FORMAT": "json",
           "SEGMENTS_JOB_INTERVAL_S": "86400"}
    # Each worker runs the segment job once as it starts; on a database with earlier runs'
    # customers (their orders days old now) that job moved thousands of segments while the
    # events were measured. Run it here first, so the workers' first round finds none due.
    setup = await create_pool(settings)
    try:
        await move_segments(setup, Rules.of(settings), Rules.of(settings).now())
    finally:
        await setup.close()
    procs = [await asyncio.create_subprocess_exec(
        sys.executable, *profiled(profile, i), "-m", "services.cli", "run", "orders", env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        for i in range(workers)]
    pool = await create_pool(settings)
    try:
        deadline = time.monotonic() + 90
        while await group_members(bootstrap, prefix + "orders") != workers:
            if time.monotonic() > deadline:
                raise RuntimeError("workers did not join their group")
            await asyncio.sleep(0.3)
        producer = AIOKafkaProducer(bootstrap_servers=servers(bootstrap), linger_ms=5,
                                    max_batch_size=256 * 1024)
        await producer.start()
        meter = CpuMeter(workers=lambda: [p.pid for p in procs], postgres=postgres_pids)
        start = time.perf_counter()
        try:
            for e in events:
                await producer.send(ORDERS, json.dumps(e).encode(),
                                    key=f"{store_id}:{e['order_id']}".encode())
            await producer.flush()
        finally:
            await producer.stop()
        published = time.perf_counter() - start
        # Done when the workers have committed every record: they commit a batch only after
        # its effects are. Asking the broker, not the database, keeps the watching off the
        # measured database (a count every 50 ms was 10% of a core).
        await consumed_to_end(bootstrap, prefix + "orders", ORDERS, within=600)
        elapsed = time.perf_counter() - start
        used = meter.used()
        done = await pool.fetchval("SELECT count(*) FROM order_events WHERE store_id = $1",
                                   store_id)
        if done != len(events) - _not_recordable(events):
            raise RuntimeError(f"{done} of {len(events)} events recorded")
        # No relay runs here: the run's events would wait in the outbox for the next relay on
        # this database (a test run's, which then spent minutes publishing them).
        await pool.execute("DELETE FROM outbox WHERE payload ->> 'store_id' = $1",
                           str(store_id))
        stats = await pool.fetchrow(
            "SELECT count(*) AS clients, sum(total_orders) AS orders, "
            "count(*) FILTER (WHERE is_vip) AS vip FROM clients WHERE store_id = $1", store_id)
        return {"published_s": published, "elapsed_s": elapsed, "stats": dict(stats or {}),
                "cpu_s": used,
                "worker_peak_rss_mb": [peak_rss_mb(p.pid) for p in procs]}
    finally:
        await pool.close()
        for p in procs:
            if p.returncode is None:
                p.send_signal(signal.SIGTERM)
        await asyncio.gather(*(p.wait() for p in procs))


def _not_recordable(events: list[dict[str, Any]]) -> int:
    """Events a replay-safe recorder keeps once: the same (order, type, time) twice."""
    seen = {(e["order_id"], e["type"], e["occurred_at"]) for e in events}
    return len(events) - len(seen)


async def bench_segments(settings: Settings, clients: int, moving: float) -> dict[str, Any]:
    url = await scratch_database(settings.database_url, "bench_orders", fresh=False)
    pool = await create_pool(settings.model_copy(update={"database_url": url}))
    rules = Rules.of(settings)
    now = datetime.now(UTC)
    try:
        # The job moves every store's clients: a database built for another size is made
        # again, not added to (a 5,000-client run beside the million moved both).
        store = await pool.fetchval("SELECT min(store_id::text)::uuid FROM clients "
                                    "HAVING count(*) = $1 AND count(DISTINCT store_id) = 1",
                                    clients)
        if store is None:
            print(f"  building {clients:,} clients with orders (kept for next runs)…")
            await pool.close()
            url = await scratch_database(settings.database_url, "bench_orders", fresh=True)
            pool = await create_pool(settings.model_copy(update={"database_url": url}))
            store = (await stores.create_store(pool, "bench orders")).id
            await pool.execute("""
                INSERT INTO clients (id, store_id, name, email, email_key, created_at,
                                     updated_at, total_orders, total_spent_minor,
                                     first_order_at, last_order_at)
                SELECT gen_random_uuid(), $1, 'Buyer ' || i, 'b' || i || '@x.example',
                       'b' || i || '@x.example', $2::timestamptz, $2::timestamptz, 1 + i % 7,
                       1000 * (1 + i % 7), $2::timestamptz - interval '200 days',
                       $2::timestamptz - make_interval(days => i % 60)
                FROM generate_series(1, $3) i""", store, now, clients)
            await pool.execute("VACUUM ANALYZE clients")
        # the segments as they were yesterday; `moving` of them are due to move today
        await pool.execute("""
            UPDATE clients SET segment = CASE WHEN random() < $2 THEN 'at_risk' ELSE
                client_segment(total_orders, is_vip, last_order_at, $3, $4, $5, $6, $7) END
            WHERE store_id = $1""", store, moving, now, *rules.segment_args())
        await pool.execute("DELETE FROM outbox")
        due = await pool.fetchval("""
            SELECT count(*) FROM clients WHERE store_id = $1 AND segment IS DISTINCT FROM
                client_segment(total_orders, is_vip, last_order_at, $2, $3, $4, $5, $6)""",
                                  store, now, *rules.segment_args())
        start = time.perf_counter()
        moved = await move_segments(pool, rules, now)
        job_s = time.perf_counter() - start
        await pool.execute("""
            UPDATE clients SET segment = CASE WHEN random() < $2 THEN 'at_risk' ELSE segment END
            WHERE store_id = $1""", store, moving)
        start = time.perf_counter()
        await pool.execute("""
            UPDATE clients SET segment = client_segment(total_orders, is_vip, last_order_at,
                                                        $2, $3, $4, $5, $6)
            WHERE store_id = $1 AND segment IS DISTINCT FROM
                client_segment(total_orders, is_vip, last_order_at, $2, $3, $4, $5, $6)""",
                           store, now, *rules.segment_args())
        bare_s = time.perf_counter() - start
        await pool.execute("DELETE FROM outbox")
        return {"clients": clients, "due": due, "moved": moved, "job_s": job_s,
                "bare_s": bare_s}
    finally:
        await pool.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=50_000)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--segment-clients", type=int, default=1_000_000)
    parser.add_argument("--moving", type=float, default=0.1)
    parser.add_argument("--only", choices=["orders", "segments"])
    parser.add_argument("--profile", metavar="DIR",
                        help="run the workers under cProfile, writing DIR/worker-N.prof")
    args = parser.parse_args()
    settings = Settings()
    await prepare(settings)
    print(f"orders bench: {os.cpu_count()} cores; Kafka and PostgreSQL on this machine")
    if args.only != "segments":
        pool = await create_pool(settings)
        store = await stores.create_store(pool, f"bench orders {uuid.uuid4().hex[:6]}")
        await pool.close()
        events = make_events(store.id, args.orders, args.customers)
        kafka_s = await baseline_kafka(settings, events)
        figures = await run_orders(settings, events, args.workers, store.id, args.profile)
        n = len(events)
        rate = n / figures["elapsed_s"]
        print(f"  {n:,} order events, {args.customers:,} customers, {args.workers} worker(s)")
        print(f"    publish           {figures['published_s']:.2f} s")
        print(f"    all recorded      {figures['elapsed_s']:.2f} s   {rate:,.0f} events/s "
              "(stats, versions, audit entries, events written)")
        print(f"    clients           {figures['stats']}")
        print(f"    CPU               "
              f"{cpu_line(figures['cpu_s'], n, 'event', figures['elapsed_s'])}")
        print(f"    baseline: plain aiokafka produce+consume of the same events: "
              f"{kafka_s:.2f} s   {n / kafka_s:,.0f} msgs/s  -> ratio "
              f"{rate / (n / kafka_s):.2f}")
        print(f"    peak RSS          workers "
              f"{[round(r) for r in figures['worker_peak_rss_mb']]} MB")
    if args.only != "orders":
        seg = await bench_segments(settings, args.segment_clients, args.moving)
        print(f"  segment job over {seg['clients']:,} clients, {seg['due']:,} due to move")
        print(f"    job               {seg['job_s']:.1f} s   moved {seg['moved']:,} "
              "(audit entries and events included)")
        print(f"    baseline: the bare UPDATE of the same rows' segment: {seg['bare_s']:.1f} s")
    print(f"  peak RSS bench {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    asyncio.run(main())

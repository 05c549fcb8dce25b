"""Provider callbacks processed per second by the delivery service, beside raw baselines.

    python -m bench.delivery [--messages 10000] [--workers 1] [--steady-rate 500]

Seeds `--messages` sent messages (half SMS via SendBlue, half email via Resend) in one store,
runs `--workers` processes of `clients run delivery`, then:
1. throughput: two callbacks per message (sent, then delivered; SendBlue's and Resend's own
   payloads) published at once to delivery.callbacks.v1; callbacks/s from the first publish
   until every message is delivered;
2. latency: `--messages`/10 more messages' callbacks at a steady `--steady-rate` callbacks/s;
   p50/p99 from publishing a callback to its state being committed.
Baselines from the same run: plain aiokafka produce + consume of the same payloads, and COPY of
the same callback rows into a scratch table. Also: signed callbacks/s through the HTTP edge
(verification + publish), with `--edge` requests.
"""

import argparse
import asyncio
import hashlib
import json
import os
import signal
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import aiohttp
import asyncpg
from aiokafka import AIOKafkaProducer

from bench._edge import until_healthy
from bench.ingest import baseline_kafka, peak_rss_mb
from schemas.messages import ProviderCallback
from services.delivery import inbox_reads
from shared import stores
from shared.db import create_pool
from shared.normalize import email_key
from shared.runner import prepare
from shared.settings import Settings, servers
from shared.topics import DELIVERY_CALLBACKS, INBOX_COMMANDS, MESSAGES_OUTBOUND
from tests.conftest import free_port
from tests.support.kafka_helpers import fast_forward, group_members

SEED = """
INSERT INTO messages (id, store_id, client_id, thread_id, direction, channel, text,
                      from_addr, to_addr, state, provider, provider_id, send_status,
                      created_at, updated_at)
SELECT id, $2, $3, $4, 'outbound', channel, 'bench', 'x', 'y', 'queued', provider, pid, 'done',
       now(), now()
FROM unnest($1::uuid[], $5::text[], $6::text[], $7::text[]) AS t(id, channel, provider, pid)"""


def callbacks_for(seeded: list[tuple[uuid.UUID, str, str]]) -> list[list[ProviderCallback]]:
    """[sent callbacks, delivered callbacks], each in the provider's own shape."""
    now = datetime.now(UTC)
    out: list[list[ProviderCallback]] = [[], []]
    for _, provider, pid in seeded:
        for i, status in enumerate(("SENT", "DELIVERED") if provider == "sendblue"
                                   else ("email.sent", "email.delivered")):
            if provider == "sendblue":
                payload: dict[str, Any] = {
                    "accountEmail": "shop@example.com", "content": "bench", "is_outbound": True,
                    "status": status, "error_code": None, "error_message": None,
                    "message_handle": pid, "date_sent": now.isoformat(),
                    "date_updated": now.isoformat(), "from_number": "+14155550100",
                    "number": "+14155550199", "to_number": "+14155550199"}
                key = hashlib.sha256(json.dumps(payload).encode()).hexdigest()
            else:
                payload = {"type": status, "created_at": now.isoformat(),
                           "data": {"email_id": pid, "from": "shop@shop.example",
                                    "to": ["a@mail.example"], "subject": "bench"}}
                key = f"msg_{uuid.uuid4().hex}"
            out[i].append(ProviderCallback(provider=provider, callback_key=key,
                                           received_at=now, payload=payload))
    return out


async def seed(pool: asyncpg.Pool, store_id: uuid.UUID, client_id: uuid.UUID,
               thread_id: uuid.UUID, n: int) -> list[tuple[uuid.UUID, str, str]]:
    rows = [(uuid.uuid4(), "sendblue" if i % 2 else "resend", str(uuid.uuid4()))
            for i in range(n)]
    await pool.execute(SEED, [r[0] for r in rows], store_id, client_id, thread_id,
                       ["sms" if r[1] == "sendblue" else "email" for r in rows],
                       [r[1] for r in rows], [r[2] for r in rows])
    return rows


async def publish(settings: Settings, callbacks: list[ProviderCallback], rate: float = 0,
                  sent_at: dict[str, float] | None = None) -> None:
    """Publish (all at once, or `rate`/s), noting provider id -> publish time in `sent_at`."""
    producer = AIOKafkaProducer(bootstrap_servers=servers(settings.kafka_bootstrap_servers),
                                linger_ms=5, max_batch_size=256 * 1024)
    await producer.start()
    sent_at = {} if sent_at is None else sent_at
    try:
        start = time.perf_counter()
        futures = []
        for i, cb in enumerate(callbacks):
            if rate:
                await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
            pid = str(cb.payload.get("message_handle")
                      or cb.payload.get("data", {}).get("email_id"))
            sent_at[pid] = time.time()
            futures.append(await producer.send(DELIVERY_CALLBACKS, cb.model_dump_json().encode(),
                                               key=pid.encode()))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def until_delivered(pool: asyncpg.Pool, ids: list[uuid.UUID], within: float = 600
                          ) -> None:
    deadline = time.monotonic() + within
    while await pool.fetchval("SELECT count(*) FROM messages WHERE id = ANY($1::uuid[]) "
                              "AND state = 'delivered'", ids) < len(ids):
        if time.monotonic() > deadline:
            raise RuntimeError("callbacks not applied in time")
        await asyncio.sleep(0.05)


async def edge_rate(settings: Settings, n: int) -> float:
    """Signed SendBlue callbacks through a local `clients run edge`: verified and published."""
    port = free_port()
    env = {**os.environ, "HTTP_PORT": str(port), "LOG_LEVEL": "WARNING", "LOG_FORMAT": "json",
           "SENDBLUE_SIGNING_SECRET": "bench-secret"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.cli", "run", "edge", env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as http:
            await until_healthy(http, base)

            async def one() -> None:
                body = {"message_handle": f"edge-{uuid.uuid4()}", "status": "SENT",
                        "is_outbound": True}
                async with http.post(f"{base}/callbacks/sendblue", json=body,
                                     headers={"sb-signing-secret": "bench-secret"}) as r:
                    assert r.status == 200, await r.text()
            start = time.perf_counter()
            await asyncio.gather(*(one() for _ in range(n)))
            return n / (time.perf_counter() - start)
    finally:
        proc.send_signal(signal.SIGTERM)
        await proc.wait()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--steady-rate", type=float, default=500)
    parser.add_argument("--edge", type=int, default=3000)
    args = parser.parse_args()
    settings = Settings()
    await prepare(settings)
    pool = await create_pool(settings)
    store = await stores.create_store(pool, f"delivery bench {uuid.uuid4().hex[:6]}")
    email = f"bench.{uuid.uuid4().hex[:6]}@mail.example"
    client_id = uuid.uuid4()
    await pool.execute(
        "INSERT INTO clients (id, store_id, name, email, email_key, created_at, updated_at) "
        "VALUES ($1, $2, 'Bench Client', $3, $4, now(), now())", client_id, store.id, email,
        email_key(email))
    thread_id = uuid.uuid4()
    await pool.execute("INSERT INTO threads (id, store_id, client_id, channel, status, "
                       "last_activity_at) VALUES ($1, $2, $3, 'sms', 'open', now())",
                       thread_id, store.id, client_id)
    burst_rows = await seed(pool, store.id, client_id, thread_id, args.messages)
    steady_rows = await seed(pool, store.id, client_id, thread_id, max(1, args.messages // 10))
    sent, delivered = callbacks_for(burst_rows)
    s_sent, s_delivered = callbacks_for(steady_rows)
    payloads = [json.loads(c.model_dump_json()) for c in sent + delivered]

    kafka_s = await baseline_kafka(settings, payloads)
    copy_s = await baseline_copy(settings, sent + delivered)

    prefix = f"bench-{uuid.uuid4().hex[:8]}-"
    await fast_forward(settings.kafka_bootstrap_servers, prefix + "delivery",
                       [MESSAGES_OUTBOUND, DELIVERY_CALLBACKS, INBOX_COMMANDS])
    env = {**os.environ, "GROUP_PREFIX": prefix, "LOG_LEVEL": "WARNING", "LOG_FORMAT": "json"}
    workers = [await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.cli", "run", "delivery", env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        for _ in range(args.workers)]
    try:
        deadline = time.monotonic() + 90
        # one consumer per topic per worker
        while await group_members(settings.kafka_bootstrap_servers,
                                  prefix + "delivery") != 3 * args.workers:
            if time.monotonic() > deadline:
                raise RuntimeError("workers did not join their group")
            await asyncio.sleep(0.3)
        start = time.perf_counter()
        await publish(settings, sent + delivered)
        await until_delivered(pool, [r[0] for r in burst_rows])
        burst_s = time.perf_counter() - start

        latencies: list[float] = []
        ids = [r[0] for r in steady_rows]
        done: set[uuid.UUID] = set()

        async def watch() -> None:
            while len(done) < len(ids):
                rows = await pool.fetch("SELECT id, provider_id FROM messages WHERE id = "
                                        "ANY($1::uuid[]) AND state = 'delivered'", ids)
                now = time.time()
                for r in rows:
                    if r["id"] not in done:
                        done.add(r["id"])
                        latencies.append((now - delivered_at[r["provider_id"]]) * 1000)
                await asyncio.sleep(0.01)
        delivered_at: dict[str, float] = {}
        await publish(settings, s_sent, args.steady_rate / 2)
        watcher = asyncio.create_task(watch())
        await publish(settings, s_delivered, args.steady_rate / 2, delivered_at)
        await watcher
        rss = [peak_rss_mb(w.pid) for w in workers]
    finally:
        for w in workers:
            if w.returncode is None:
                w.send_signal(signal.SIGTERM)
        await asyncio.gather(*(w.wait() for w in workers))
    edge = await edge_rate(settings, args.edge)
    thread = await inbox_reads.thread(pool, thread_id, store.id)
    await pool.close()

    n = 2 * args.messages
    q = statistics.quantiles(latencies, n=100)
    print(f"delivery bench: {args.messages} messages (half SMS, half email), {n} callbacks, "
          f"{args.workers} worker process(es), {os.cpu_count()} cores")
    print(f"  throughput: {n} callbacks published at once (sent, then delivered)")
    print(f"    all applied       {burst_s:.2f} s   {n / burst_s:,.0f} callbacks/s "
          f"({args.messages / burst_s:,.0f} messages/s to delivered)")
    print(f"  latency: {len(s_delivered) * 2} callbacks at {args.steady_rate:,.0f}/s")
    print(f"    publish->state    p50 {q[49]:.0f} ms   p99 {q[98]:.0f} ms")
    print(f"  HTTP edge           {edge:,.0f} signed SendBlue callbacks/s accepted "
          f"(verified, published, acked; {args.edge} requests, 64 concurrent)")
    print(f"  peak RSS            workers {[round(r) for r in rss]} MB")
    print(f"  thread messages     {len(thread['messages'])}")
    print("  baselines (same run, same payloads):")
    print(f"    aiokafka produce + consume         {kafka_s:.2f} s   {n / kafka_s:,.0f} msgs/s")
    print(f"    COPY into a scratch table          {copy_s:.2f} s   {n / copy_s:,.0f} rows/s")


async def baseline_copy(settings: Settings, callbacks: list[ProviderCallback]) -> float:
    conn = await asyncpg.connect(settings.database_url)
    try:
        await conn.execute("CREATE TEMP TABLE bench_callbacks (provider text, callback_key "
                           "text, payload text, received_at timestamptz)")
        rows = [(c.provider, c.callback_key, json.dumps(c.payload), c.received_at)
                for c in callbacks]
        start = time.perf_counter()
        await conn.copy_records_to_table("bench_callbacks", records=rows)
        return time.perf_counter() - start
    finally:
        await conn.close()


if __name__ == "__main__":
    asyncio.run(main())

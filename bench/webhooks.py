"""Webhook fan-out: signed deliveries/s and event-to-delivery latency, beside plain aiohttp.

    python -m bench.webhooks [--events 5000] [--endpoints 1 4] [--workers 1]
                             [--steady-rate 1000] [--steady-s 4] [--profile DIR]

Runs a local receiver in another process; for each count in `--endpoints` (one endpoint, and
many), `--workers` processes of `clients run webhooks` and that many endpoints on the receiver
for a store of its own, then three phases:
1. all endpoints live: `--events` client events published at once to clients.events.v1;
   deliveries/s from the first publish to the last delivery received, and p50/p99 of
   event time -> received time;
2. the same with one more endpoint that accepts connections and never answers (dead): the live
   endpoints' figures again;
3. latency: `--steady-s` seconds at a steady `--steady-rate` deliveries/s (over all the
   endpoints), the dead endpoint still there; p50/p99 event -> delivery when not queueing.
Baseline from the same run: the same number of plain aiohttp POSTs (no signing, no database)
from this process to the same receiver, at the dispatcher's concurrency (its per-endpoint limit
for each endpoint). Peak RSS of the workers and the receiver.
"""

import argparse
import asyncio
import json
import os
import signal
import statistics
import sys
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp import web
from aiokafka import AIOKafkaProducer

from bench.ingest import peak_rss_mb, profiled
from services.webhooks import endpoints
from shared import stores
from shared.db import Pool, create_pool
from shared.runner import prepare
from shared.settings import Settings, servers
from shared.topics import EVENTS
from tests.conftest import free_port
from tests.support.kafka_helpers import fast_forward, group_members
from tests.support.webhook_helpers import client_event

CONCURRENCY = 256


# --- the receiver (another process) ---

def receiver_main(port: int) -> None:
    counts: dict[str, int] = defaultdict(int)
    latencies: dict[str, list[float]] = defaultdict(list)
    hang = asyncio.Event()

    async def hook(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        body = await request.read()
        if name.startswith("dead"):
            await hang.wait()
        counts[name] += 1
        if request.headers.get("webhook-id"):
            sent = datetime.fromisoformat(json.loads(body)["timestamp"])
            latencies[name].append((datetime.now(UTC) - sent).total_seconds() * 1000)
        return web.Response(text="ok")

    async def stats(_: web.Request) -> web.Response:
        return web.json_response({"counts": counts, "latencies": latencies,
                                  "peak_rss_mb": peak_rss_mb()})

    async def reset(_: web.Request) -> web.Response:
        counts.clear()
        latencies.clear()
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hooks/{name}", hook)
    app.router.add_get("/stats", stats)
    app.router.add_post("/reset", reset)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None,
                shutdown_timeout=0.5)


# --- the bench ---

async def wait_for(http: aiohttp.ClientSession, base: str, names: list[str], each: int,
                   within: float) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while True:
        async with http.get(f"{base}/stats") as r:
            stats: dict[str, Any] = await r.json()
        if all(stats["counts"].get(n, 0) >= each for n in names):
            return stats
        if time.monotonic() > deadline:
            raise RuntimeError(f"not delivered within {within}s: {stats['counts']}")
        await asyncio.sleep(0.05)


async def phase(settings: Settings, http: aiohttp.ClientSession, base: str,
                store_id: uuid.UUID, live: list[str], n: int, rate: float = 0
                ) -> dict[str, Any]:
    """Publish n events (all at once, or `rate` per second) and wait for every delivery."""
    await http.post(f"{base}/reset")
    producer = AIOKafkaProducer(bootstrap_servers=servers(settings.kafka_bootstrap_servers),
                                linger_ms=5, max_batch_size=256 * 1024)
    await producer.start()
    try:
        started = time.perf_counter()
        futures = []
        for i in range(n):
            if rate:
                await asyncio.sleep(max(0.0, started + i / rate - time.perf_counter()))
            e = client_event(store_id)
            futures.append(await producer.send(EVENTS, e.model_dump_json().encode(),
                                               key=str(e.client.id).encode()))
        await asyncio.gather(*futures)
        published = time.perf_counter() - started
    finally:
        await producer.stop()
    stats = await wait_for(http, base, live, n, within=600)
    elapsed = time.perf_counter() - started
    lat = sorted(x for name in live for x in stats["latencies"][name])
    q = statistics.quantiles(lat, n=100)
    return {"deliveries": n * len(live), "published_s": published, "elapsed_s": elapsed,
            "p50_ms": q[49], "p99_ms": q[98], "receiver_rss_mb": stats["peak_rss_mb"]}


async def baseline(http: aiohttp.ClientSession, base: str, names: list[str], n: int,
                   per_endpoint: int) -> float:
    """n plain POSTs to each endpoint, at most `per_endpoint` in flight to each: the
    dispatcher's own limit, so both sides run at the same concurrency."""
    body = client_event(uuid.uuid4()).model_dump_json().encode()

    async def endpoint(url: str) -> None:
        sem = asyncio.Semaphore(per_endpoint)

        async def one() -> None:
            async with sem, http.post(url, data=body,
                                      headers={"content-type": "application/json"}) as r:
                await r.read()
        await asyncio.gather(*(one() for _ in range(n)))
    started = time.perf_counter()
    await asyncio.gather(*(endpoint(f"{base}/hooks/{name}") for name in names))
    return time.perf_counter() - started


async def run_case(settings: Settings, pool: Pool, http: aiohttp.ClientSession, base: str,
                   n_endpoints: int, args: argparse.Namespace) -> None:
    """One store with `n_endpoints` live endpoints and its own worker group: the three phases
    and the baseline, printed."""
    per_endpoint = settings.webhook_max_per_endpoint
    store = await stores.create_store(pool, f"webhook bench {uuid.uuid4().hex[:6]}")
    live = [f"live{i}" for i in range(n_endpoints)]
    made = [await endpoints.add_endpoint(pool, settings, store.id, f"{base}/hooks/{name}", [])
            for name in live]
    prefix = f"bench-{uuid.uuid4().hex[:8]}-"
    await fast_forward(settings.kafka_bootstrap_servers, prefix + "webhooks", [EVENTS])
    env = {**os.environ, "GROUP_PREFIX": prefix, "LOG_LEVEL": "WARNING", "LOG_FORMAT": "json",
           "GRACEFUL_TIMEOUT_S": "2"}
    workers = [await asyncio.create_subprocess_exec(
        sys.executable, *profiled(args.profile, i), "-m", "services.cli", "run", "webhooks",
        env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        for i in range(args.workers)]
    try:
        deadline = time.monotonic() + 60
        while await group_members(settings.kafka_bootstrap_servers,
                                  prefix + "webhooks") != args.workers:
            if time.monotonic() > deadline:
                raise RuntimeError("workers did not start")
            await asyncio.sleep(0.2)
        raw_s = await baseline(http, base, live, args.events, per_endpoint)
        healthy = await phase(settings, http, base, store.id, live, args.events)
        made.append(await endpoints.add_endpoint(pool, settings, store.id,
                                                 f"{base}/hooks/dead0", []))
        degraded = await phase(settings, http, base, store.id, live, args.events)
        rate = args.steady_rate / n_endpoints  # events/s: deliveries/s over the endpoints
        steady = await phase(settings, http, base, store.id, live,
                             max(1, int(rate * args.steady_s)), rate)
        rss = [peak_rss_mb(w.pid) for w in workers]
    finally:
        for m in made:
            await endpoints.set_enabled(pool, m["id"], False)
        for w in workers:
            if w.returncode is None:
                w.send_signal(signal.SIGTERM)
        await asyncio.gather(*(w.wait() for w in workers))

    n = args.events * n_endpoints
    print(f"  {n_endpoints} endpoint(s): {args.events} events x {n_endpoints} = {n} signed "
          "deliveries")
    for title, f in (("all endpoints live", healthy),
                     ("one more endpoint dead (never answers)", degraded)):
        print(f"    {title}:")
        print(f"      publish           {f['published_s']:.2f} s")
        print(f"      all delivered     {f['elapsed_s']:.2f} s   "
              f"{f['deliveries'] / f['elapsed_s']:,.0f} deliveries/s (first publish to last "
              f"delivery) = {raw_s / f['elapsed_s']:.2f}x the baseline")
        print(f"      event->delivery   p50 {f['p50_ms']:.0f} ms   p99 {f['p99_ms']:.0f} ms")
    print(f"    latency phase, dead endpoint still there: {steady['deliveries']} deliveries at "
          f"{args.steady_rate:,.0f}/s ({rate:,.0f} events/s x {n_endpoints})")
    print(f"      event->delivery   p50 {steady['p50_ms']:.0f} ms   p99 {steady['p99_ms']:.0f} "
          "ms")
    print(f"    peak RSS            workers {[round(r) for r in rss]} MB, receiver "
          f"{degraded['receiver_rss_mb']:.0f} MB")
    print(f"    baseline (same run, same receiver): plain aiohttp POSTs, {per_endpoint} in "
          f"flight per endpoint as the dispatcher: {raw_s:.2f} s, {n / raw_s:,.0f} requests/s")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--endpoints", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--steady-rate", type=float, default=1000,
                        help="deliveries/s of the latency phase (over all endpoints)")
    parser.add_argument("--steady-s", type=float, default=4,
                        help="seconds of the latency phase")
    parser.add_argument("--profile", metavar="DIR",
                        help="run the workers under cProfile, one .prof file each in DIR")
    args = parser.parse_args()
    os.environ["WEBHOOK_ALLOWED_NETWORKS"] = '["127.0.0.1/32"]'
    settings = Settings()
    await prepare(settings)
    pool = await create_pool(settings)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    receiver = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.webhooks", "--receiver", str(port))
    print(f"webhooks bench: {args.workers} worker process(es), {os.cpu_count()} cores; Kafka, "
          "PostgreSQL and the receiver on this machine")
    try:
        async with aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as http:
            deadline = time.monotonic() + 60
            while True:
                try:
                    async with http.get(f"{base}/stats"):
                        break
                except aiohttp.ClientError:
                    if time.monotonic() > deadline:
                        raise RuntimeError("the receiver did not start") from None
                    await asyncio.sleep(0.2)
            for n_endpoints in args.endpoints:
                await run_case(settings, pool, http, base, n_endpoints, args)
    finally:
        if receiver.returncode is None:
            receiver.send_signal(signal.SIGTERM)
        await receiver.wait()
        await pool.close()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--receiver"]:  # the receiver process, started by main()
        receiver_main(int(sys.argv[2]))
    else:
        asyncio.run(main())

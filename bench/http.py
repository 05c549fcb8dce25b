"""POST /integrations/v1/clients (new clients, keep-alive) through the whole pipeline, beside a
plain asyncpg INSERT per request measured in the same run.

    python -m bench.http [--requests 3000] [--concurrency 10 50] [--steady-rate 500]
                         [--steady-s 10] [--workers 1]

Starts `clients run edge` and `--workers` processes of `clients run ingest upsert relay` (consumer
groups of their own), then:
1. closed loop: `--requests` requests at each `--concurrency` (each caller sends its next request
   when the last is answered): req/s, p50/p99;
2. open loop: requests sent at a steady `--steady-rate` for `--steady-s` seconds whatever the
   answers: p50/p99.
For each, the CPU a request cost the edge, the pipeline, PostgreSQL, Kafka and the callers (this
process), and how busy that kept the cores.
Every answer must be 201 (created, the result recorded); a 202 (no result in time) is counted.
Baseline at each load: the same number of callers each doing one INSERT of the same fields into a
scratch table on its own connection (what a request costs with no HTTP, no Kafka, no resolver).
"""

import argparse
import asyncio
import os
import signal
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import asyncpg

from bench._cpu import CpuMeter, kafka_pids, postgres_pids, this_process
from bench._edge import until_healthy
from bench.ingest import peak_rss_mb, profiled
from shared import stores
from shared.db import create_pool
from shared.runner import prepare
from shared.settings import Settings
from shared.topics import INGEST, UPSERT
from tests.conftest import free_port
from tests.support.kafka_helpers import fast_forward, group_members

ROUTE = "/integrations/v1/clients"


def body(n: int, run: str) -> dict[str, Any]:
    return {"email": f"http.{run}.{n}@example.com", "name": f"Http Bench{n}",
            "phone": f"+1415{5550000 + n % 10_000:07d}", "tags": ["bench"]}


def summary(latencies: list[float], seconds: float) -> dict[str, float]:
    lat = sorted(latencies)
    return {"rate": len(lat) / seconds, "p50": statistics.median(lat) * 1000,
            "p99": lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000}


async def closed_loop(call: Callable[[int], Awaitable[None]], n: int, concurrency: int
                      ) -> dict[str, float]:
    latencies: list[float] = []
    counter = iter(range(n))

    async def caller() -> None:
        for i in counter:
            start = time.perf_counter()
            await call(i)
            latencies.append(time.perf_counter() - start)
    start = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(concurrency)))
    return summary(latencies, time.perf_counter() - start)


async def open_loop(call: Callable[[int], Awaitable[None]], rate: float, seconds: float
                    ) -> dict[str, float]:
    latencies: list[float] = []

    async def timed(i: int) -> None:
        start = time.perf_counter()
        await call(i)
        latencies.append(time.perf_counter() - start)
    tasks = []
    start = time.perf_counter()
    for i in range(int(rate * seconds)):
        await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
        tasks.append(asyncio.create_task(timed(i)))
    await asyncio.gather(*tasks)
    return summary(latencies, time.perf_counter() - start)


class Edge:
    """The HTTP calls, counting the answers that were not 201."""

    def __init__(self, http: aiohttp.ClientSession, base: str, token: str) -> None:
        self.http, self.base, self.token = http, base, token
        self.run = uuid.uuid4().hex[:8]
        self.not_created: dict[int, int] = {}
        self.sent = 0

    async def post(self, _: int) -> None:
        self.sent += 1
        async with self.http.post(f"{self.base}{ROUTE}", json=body(self.sent, self.run),
                                  headers={"Authorization": f"Bearer {self.token}"}) as r:
            await r.read()
            if r.status != 201:
                self.not_created[r.status] = self.not_created.get(r.status, 0) + 1


async def baseline(settings: Settings, load: str, n: int, concurrency: int, rate: float,
                   seconds: float = 0) -> dict[str, float]:
    pool = await asyncpg.create_pool(settings.database_url, min_size=concurrency,
                                     max_size=concurrency)
    assert pool is not None
    table = f"bench_http_{uuid.uuid4().hex[:8]}"
    await pool.execute(f"CREATE UNLOGGED TABLE {table} (id uuid PRIMARY KEY, email text, "
                       "name text, phone text, tags text[])")
    run = uuid.uuid4().hex[:8]
    insert = f"INSERT INTO {table} VALUES ($1, $2, $3, $4, $5)"  # noqa: S608 - our own name

    async def call(i: int) -> None:
        b = body(i, run)
        await pool.execute(insert, uuid.uuid4(), b["email"], b["name"], b["phone"], b["tags"])
    try:
        if load == "closed":
            return await closed_loop(call, n, concurrency)
        return await open_loop(call, rate, seconds)
    finally:
        await pool.execute(f"DROP TABLE {table}")
        await pool.close()


async def start_services(settings: Settings, workers: int, port: int, profile: str | None
                         ) -> list[asyncio.subprocess.Process]:
    prefix = f"bench-http-{uuid.uuid4().hex[:8]}-"
    for group, topic in (("ingest", INGEST), ("upsert", UPSERT)):
        await fast_forward(settings.kafka_bootstrap_servers, prefix + group, [topic])
    env = {**os.environ, "GROUP_PREFIX": prefix, "HTTP_PORT": str(port), "LOG_LEVEL": "WARNING",
           "LOG_FORMAT": "json"}
    commands = [["edge"], *[["ingest", "upsert", "relay"]] * workers]
    procs = [await asyncio.create_subprocess_exec(
        sys.executable, *profiled(profile, i), "-m", "services.cli", "run", *c, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        for i, c in enumerate(commands)]
    deadline = time.monotonic() + 90
    while await group_members(settings.kafka_bootstrap_servers, prefix + "upsert") != workers:
        if time.monotonic() > deadline:
            raise RuntimeError("workers did not join their groups")
        await asyncio.sleep(0.3)
    return procs


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[10, 50])
    parser.add_argument("--steady-rate", type=float, default=500)
    parser.add_argument("--steady-s", type=float, default=10)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--profile", metavar="DIR",
                        help="run the edge (worker-0) and the pipeline under cProfile")
    args = parser.parse_args()
    settings = Settings()
    await prepare(settings)
    pool = await create_pool(settings)
    store = await stores.create_store(pool, f"bench http {uuid.uuid4().hex[:6]}")
    key = await stores.create_key(pool, store.id, "bench")
    port = free_port()
    procs = await start_services(settings, args.workers, port, args.profile)
    rows: list[tuple[str, dict[str, float], dict[str, float]]] = []
    cpu: list[tuple[str, float, dict[str, float]]] = []  # phase, seconds, CPU per side

    async def metered(name: str, phase: Awaitable[dict[str, float]]) -> dict[str, float]:
        meter = CpuMeter(edge=lambda: [procs[0].pid], pipeline=lambda: [p.pid for p in procs[1:]],
                         postgres=postgres_pids, kafka=kafka_pids, callers=this_process)
        start = time.perf_counter()
        got = await phase
        cpu.append((name, time.perf_counter() - start, meter.used()))
        return got

    try:
        limit = max(*args.concurrency, 256)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=limit)) as http:
            base = f"http://127.0.0.1:{port}"
            await until_healthy(http, base)
            edge = Edge(http, base, key.token)
            for _ in range(50):  # connections and statements warm
                await edge.post(0)
            for c in args.concurrency:
                name = f"{c} concurrent, {args.requests} requests"
                rows.append((name, await metered(name, closed_loop(edge.post, args.requests, c)),
                             await baseline(settings, "closed", args.requests, c, 0)))
            name = f"steady {args.steady_rate:,.0f} req/s for {args.steady_s:g} s"
            rows.append((name, await metered(name, open_loop(edge.post, args.steady_rate,
                                                             args.steady_s)),
                         await baseline(settings, "open", 0, 50, args.steady_rate,
                                        args.steady_s)))
        rss = [peak_rss_mb(p.pid) for p in procs]
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        await asyncio.gather(*(p.wait() for p in procs))
    await pool.close()

    print(f"http bench: POST {ROUTE}, new clients, keep-alive; 1 edge + {args.workers} "
          f"pipeline process(es), {os.cpu_count()} cores; Kafka and PostgreSQL on this machine")
    print(f"  {'load':<34} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}   "
          f"{'baseline req/s':>14} {'p50':>6} {'p99':>6}   ratio")
    for name, got, raw in rows:
        print(f"  {name:<34} {got['rate']:>8,.0f} {got['p50']:>8.1f} {got['p99']:>8.1f}   "
              f"{raw['rate']:>14,.0f} {raw['p50']:>6.1f} {raw['p99']:>6.1f}   "
              f"{got['rate'] / raw['rate']:.2f}x")
    print(f"  answers other than 201: {edge.not_created or 'none'}")
    print(f"  CPU a request, µs: {'':<15} {'edge':>8} {'pipeline':>9} {'PostgreSQL':>11} "
          f"{'Kafka':>7} {'callers':>8}   busy")
    for (name, seconds, used), (_, got, _) in zip(cpu, rows, strict=True):
        done = got["rate"] * seconds
        print(f"  {name:<34} " + " ".join(f"{used[k] / done * 1e6:>{w},.0f}" for k, w in (
            ("edge", 8), ("pipeline", 9), ("postgres", 11), ("kafka", 7), ("callers", 8)))
            + f"   {sum(used.values()) / (seconds * (os.cpu_count() or 1)):.0%} of the cores")
    print(f"  peak RSS: edge {rss[0]:.0f} MB, pipeline {[round(r) for r in rss[1:]]} MB")
    print("  baseline: one asyncpg INSERT of the same fields per request, same callers")


if __name__ == "__main__":
    asyncio.run(main())

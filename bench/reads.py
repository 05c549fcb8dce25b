"""The clients API's reads, export and commands, on 1,000,000 clients, beside raw baselines.

    python -m bench.reads [--clients 1000000] [--requests 200] [--commands 20000]
                          [--deep-page 1000] [--bulk 1000] [--commands-workers 1]
                          [--profile DIR]

Builds (once; kept for the next run) a database `<DATABASE_URL's>_bench_reads` with 10 stores,
one of half the clients, 2,000 distinct tags ("vip" on 30% of clients, "newsletter" on 40%, the
rest Zipf-like), 5% BLOCKED. Runs `clients run edge commands` as its own process and measures,
through HTTP, on the big store:

- GET /v1/clients, first page and page `--deep-page` (limit 20, reached by cursor), for no filter,
  q=grace (a substring, pg_trgm), tags=vip,newsletter, status=BLOCKED: p50 / p99 / max;
- GET /v1/tags?prefix=… (one and two letters): p50 / p99;
- GET /v1/clients/export.csv of the big store: rows/s and the edge's RSS growth, beside
  COPY (the same SELECT) TO STDOUT in the same run;
- POST /v1/clients/bulk/tags of `--bulk` clients (five times), end to end (answered with the
  applied result);
- commands/s: --commands `tag` commands for distinct clients produced to clients.commands.v1,
  from the first send to the last recorded result, beside the producer's own rate.
"""

import argparse
import asyncio
import os
import random
import signal
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import partial
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
from aiokafka import AIOKafkaProducer

from bench._cpu import CpuMeter, cpu_line, postgres_pids
from bench.ingest import FIRST, LAST, peak_rss_mb, profiled
from schemas.commands import ClientCommand
from services.edge.reads import ClientQuery
from services.edge.reads_sql import export_clients
from shared import access
from shared.migrate import migrate
from shared.runner import prepare
from shared.settings import Settings, servers
from shared.topics import COMMANDS
from tests.support.kafka_helpers import consumed_to_end, fast_forward, group_members

STORES = 10
COMPANIES = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Wonka",
             "Tyrell", "Soylent", ""]

FILL = """
INSERT INTO clients (id, store_id, name, first_name, last_name, email, email_key, phone,
                     company, type, tags, status, source_label, created_at, updated_at)
SELECT gen_random_uuid(), $1, f || ' ' || l, f, l, e, e,
       '+1415' || lpad(((i::bigint * 7919) % 10000000)::text, 7, '0'),
       nullif(($6::text[])[1 + i % array_length($6::text[], 1)], ''),
       CASE WHEN i % 10 = 0 THEN 'wholesale' ELSE 'retail' END,
       ARRAY(SELECT DISTINCT t FROM unnest(
           ARRAY[CASE WHEN i % 10 < 3 THEN 'vip' END,
                 CASE WHEN (i * 31) % 10 < 4 THEN 'newsletter' END]
           || ARRAY(SELECT ($5::text[])[1 + floor(array_length($5::text[], 1)
                                                  * power(random(), 3))::int]
                    FROM generate_series(1, i % 4))) t WHERE t IS NOT NULL),
       CASE WHEN i % 20 = 7 THEN 'BLOCKED' ELSE 'ACTIVE' END, 'bench',
       $7::timestamptz + i * interval '20 seconds',
       $7::timestamptz + i * interval '20 seconds' + (i % 997) * interval '1 hour'
FROM generate_series($2::int, $3::int) i,
     LATERAL (SELECT ($4::text[])[1 + (i * 13) % array_length($4::text[], 1)] AS f,
                     ($8::text[])[1 + (i * 7) % array_length($8::text[], 1)] AS l) n,
     LATERAL (SELECT lower(replace(f || '.' || l, ' ', '')) || '.' || i || '@bench.example'
              AS e) m"""

EXPORT_SELECT = export_clients(archived=False)  # the very SELECT the edge streams


def tag_words(n: int, seed: int = 11) -> list[str]:
    rng = random.Random(seed)
    syllables = ["ne", "wa", "ro", "ki", "lo", "ma", "pre", "su", "ta", "vi", "do", "chi",
                 "ber", "gal", "zen", "fo"]
    words: set[str] = set()
    while len(words) < n:
        words.add("".join(rng.choice(syllables) for _ in range(rng.randint(2, 4)))
                  + rng.choice(["", "-30", "-club", "-2026", "-west"]))
    return sorted(words)


def db_url(settings: Settings, name: str) -> str:
    return urlunsplit(urlsplit(settings.database_url)._replace(path=f"/{name}"))


async def build(settings: Settings, clients: int) -> tuple[str, uuid.UUID]:
    """The bench database, filled once; the big store's id. A database of another size is
    dropped and made again (the append-only tables refuse a TRUNCATE)."""
    name = urlsplit(settings.database_url).path.lstrip("/") + "_bench_reads"
    url = db_url(settings, name)
    admin = await asyncpg.connect(db_url(settings, "postgres"))
    try:
        have = None
        if await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await migrate(url)
            conn = await asyncpg.connect(url)
            try:
                have = await conn.fetchval("SELECT count(*) FROM clients")
            finally:
                await conn.close()
        if have != clients:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    await migrate(url)
    conn = await asyncpg.connect(url)
    try:
        if have != clients:
            print(f"  building {clients:,} clients in {STORES} stores (kept for next runs)…")
            started = time.perf_counter()
            tags = tag_words(2000)
            big = clients // 2
            sizes = [big] + [(clients - big) // (STORES - 1)] * (STORES - 1)
            sizes[-1] += clients - sum(sizes)
            first = 0
            for s, size in enumerate(sizes):
                store_id = await conn.fetchval(
                    "INSERT INTO stores (id, name, region) VALUES (gen_random_uuid(), $1, "
                    "'US') RETURNING id", f"bench reads {s}")
                for lo in range(first, first + size, 100_000):
                    await conn.execute(FILL, store_id, lo, min(lo + 100_000, first + size) - 1,
                                       FIRST, tags, COMPANIES, datetime(2024, 1, 1, tzinfo=UTC),
                                       LAST)
                first += size
            await conn.execute("VACUUM ANALYZE clients")
            await conn.execute("VACUUM ANALYZE store_tags")
            print(f"  built in {time.perf_counter() - started:.0f} s")
        store_id = await conn.fetchval(
            "SELECT store_id FROM clients GROUP BY store_id ORDER BY count(*) DESC LIMIT 1")
    finally:
        await conn.close()
    return url, store_id


def percentiles(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p99 = ms[min(len(ms) - 1, round(len(ms) * 0.99) - 1)]
    return f"p50 {statistics.median(ms):6.2f} ms  p99 {p99:6.2f} ms  max {ms[-1]:6.2f} ms"


async def timed(n: int, call: Callable[[], Awaitable[httpx.Response]]) -> list[float]:
    out = []
    for _ in range(n):
        start = time.perf_counter()
        answer = await call()
        out.append(time.perf_counter() - start)
        answer.raise_for_status()
    return out


async def bench_lists(http: httpx.AsyncClient, requests: int, deep_page: int) -> None:
    print("GET /v1/clients (big store, limit 20)")
    for label, params in (("no filter", {}), ("q=grace", {"q": "grace"}),
                          ("tags=vip,newsletter", {"tags": "vip,newsletter"}),
                          ("status=BLOCKED", {"status": "BLOCKED"})):
        first = await timed(requests, partial(http.get, "/v1/clients", params=params))
        cursor, walk = None, []
        for _ in range(deep_page - 1):   # to the deep page, by cursor
            start = time.perf_counter()
            page = (await http.get("/v1/clients", params={**params, **(
                {"cursor": cursor} if cursor else {})})).json()
            walk.append(time.perf_counter() - start)
            cursor = page["next"]
            if cursor is None:
                break
        if cursor is None:
            print(f"  {label:22} first page {percentiles(first)}; fewer than {deep_page:,} "
                  "pages")
            continue
        deep = await timed(requests, partial(http.get, "/v1/clients",
                                             params={**params, "cursor": cursor}))
        total = page["total"]
        print(f"  {label:22} first page {percentiles(first)}   total {total['value']:,}"
              f"{'' if total['exact'] else ' (estimate)'}")
        print(f"  {'':22} page {deep_page:,} {percentiles(deep)}   (the walk there: "
              f"{percentiles(walk)})")


async def bench_tags(http: httpx.AsyncClient, requests: int) -> None:
    rng = random.Random(5)
    letters = "abcdefghiklmnoprstvwz"
    for size in (1, 2):
        async def one(size: int = size) -> httpx.Response:
            prefix = "".join(rng.choice(letters) for _ in range(size))
            return await http.get("/v1/tags", params={"prefix": prefix})
        samples = await timed(requests, one)
        print(f"GET /v1/tags?prefix= ({size} letter{'s' if size > 1 else ''})  "
              f"{percentiles(samples)}")


async def bench_export(http: httpx.AsyncClient, url: str, store_id: uuid.UUID,
                       edge_pid: int) -> None:
    def rss() -> float:
        with open(f"/proc/{edge_pid}/status") as f:
            return next(int(line.split()[1]) / 1024 for line in f if line.startswith("VmRSS:"))
    before, peak, rows, size = rss(), 0.0, 0, 0
    start = time.perf_counter()
    async with http.stream("GET", "/v1/clients/export.csv") as answer:
        answer.raise_for_status()
        async for chunk in answer.aiter_bytes():
            size += len(chunk)
            rows += chunk.count(b"\n")
            peak = max(peak, rss())
    export_s = time.perf_counter() - start
    conn = await asyncpg.connect(url)
    try:
        sink_bytes = 0

        async def sink(chunk: bytes) -> None:
            nonlocal sink_bytes
            sink_bytes += len(chunk)
        start = time.perf_counter()
        # The edge's own parameters for "no filter": they follow the filters as they grow.
        await conn.copy_from_query(EXPORT_SELECT, store_id, *ClientQuery().params(), output=sink,
                                   format="csv", header=True)
        copy_s = time.perf_counter() - start
    finally:
        await conn.close()
    print(f"export.csv   {rows - 1:,} rows ({size / 2**20:.0f} MB, newlines in notes "
          f"aside) in {export_s:.2f} s: {(rows - 1) / export_s:,.0f} rows/s; edge RSS "
          f"{before:.0f} MB before, {peak:.0f} MB at most during")
    print(f"  baseline   COPY (same SELECT) TO STDOUT: {copy_s:.2f} s, "
          f"{(rows - 1) / copy_s:,.0f} rows/s ({sink_bytes / 2**20:.0f} MB)")


async def bench_bulk_tag(http: httpx.AsyncClient, url: str, store_id: uuid.UUID, size: int
                         ) -> None:
    conn = await asyncpg.connect(url)
    try:
        samples = []
        for run in range(5):
            ids = [str(r["id"]) for r in await conn.fetch(
                "SELECT id FROM clients WHERE store_id = $1 AND deleted_at IS NULL "
                "ORDER BY id OFFSET $2 LIMIT $3", store_id, size * run, size)]
            start = time.perf_counter()
            answer = await http.post("/v1/clients/bulk/tags", json={
                "client_ids": ids, "add": [f"bulk-{uuid.uuid4().hex[:6]}"]})
            samples.append(time.perf_counter() - start)
            assert answer.status_code == 200, answer.text
            assert len(answer.json()["result"]["client_ids"]) == size
    finally:
        await conn.close()
    print(f"POST /v1/clients/bulk/tags, {size:,} clients, end to end  {percentiles(samples)}")


async def bench_commands(settings: Settings, url: str, store_id: uuid.UUID, n: int, group: str,
                         pids: list[int]) -> None:
    workers = len(pids)
    conn = await asyncpg.connect(url)
    try:
        ids = [r["id"] for r in await conn.fetch(
            "SELECT id FROM clients WHERE store_id = $1 AND deleted_at IS NULL "
            "ORDER BY id DESC LIMIT $2", store_id, n)]
        run = uuid.uuid4().hex[:8]
        values = [ClientCommand.model_validate({
            "command_id": f"bench-{run}-{i}", "store_id": store_id, "action": "tag",
            "client_id": client_id, "actor": {"type": "system", "name": "bench"},
            "add": [f"cmd-{run}"]}).model_dump_json().encode() for i, client_id in
            enumerate(ids)]
        producer = AIOKafkaProducer(bootstrap_servers=servers(settings.kafka_bootstrap_servers),
                                    linger_ms=5, acks="all", enable_idempotence=True)
        await producer.start()
        try:
            meter = CpuMeter(commands_processes=lambda: pids, postgres=postgres_pids)
            start = time.perf_counter()
            futures = [await producer.send(COMMANDS, v, key=str(c).encode())
                       for v, c in zip(values, ids, strict=True)]
            await asyncio.gather(*futures)
            produced_s = time.perf_counter() - start
        finally:
            await producer.stop()
        # Done when the commands process has committed every record: it commits a batch only
        # after its results are recorded. Asking the broker, not the database, keeps the watching
        # off the measured database: a count of the run's results every 50 ms took 41 ms a call
        # on a client_commands table grown by earlier runs, 4.4 s of an 11 s run.
        await consumed_to_end(settings.kafka_bootstrap_servers, group, COMMANDS, within=600)
        applied_s = time.perf_counter() - start
        cpu = meter.used()
        done = await conn.fetchval("SELECT count(*) FROM client_commands WHERE store_id = $1 "
                                   "AND command_id LIKE $2", store_id, f"bench-{run}-%")
        if done != n:
            raise RuntimeError(f"{done} of {n} commands have a result")
    finally:
        await conn.close()
    print(f"commands     {n:,} tag commands on distinct clients: {n / applied_s:,.0f} "
          f"commands/s sustained ({applied_s:.1f} s from first send to last result; {workers} "
          f"commands process{'es' if workers > 1 else ''})")
    print(f"  CPU        {cpu_line(cpu, n, 'command', applied_s)}")
    print(f"  baseline   producing them alone: {n / produced_s:,.0f} msgs/s")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--commands", type=int, default=20_000)
    parser.add_argument("--deep-page", type=int, default=1000)
    parser.add_argument("--bulk", type=int, default=1000, help="clients per bulk tag request")
    parser.add_argument("--commands-workers", type=int, default=1,
                        help="commands processes: the edge's own and N-1 `clients run commands`")
    parser.add_argument("--only", choices=["lists", "tags", "export", "bulk", "commands"],
                        nargs="*", help="run only these parts")
    parser.add_argument("--profile", metavar="DIR",
                        help="run the edge + commands process under cProfile (DIR/worker-0.prof)")
    args = parser.parse_args()
    base = Settings()
    print(f"reads bench: {args.clients:,} clients, {os.cpu_count()} cores; Kafka and "
          "PostgreSQL on this machine")
    url, store_id = await build(base, args.clients)
    settings = base.model_copy(update={"database_url": url})
    await prepare(settings)
    pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
    assert pool is not None
    member = await access.add_member(pool, store_id, "Bench", "owner")
    # No relay runs on the bench's database: the events of earlier runs' commands would pile up
    # in the outbox (400,000 rows after twenty runs), and every insert would land in a table that
    # only grows.
    await pool.execute("DELETE FROM outbox")
    await pool.close()
    prefix = f"bench-{uuid.uuid4().hex[:8]}-"
    await fast_forward(settings.kafka_bootstrap_servers, prefix + "commands", [COMMANDS])
    port = 18000 + random.randrange(1000)
    env = {**os.environ, "DATABASE_URL": url, "GROUP_PREFIX": prefix, "HTTP_PORT": str(port),
           "LOG_LEVEL": "WARNING", "LOG_FORMAT": "json"}
    edge = await asyncio.create_subprocess_exec(
        sys.executable, *profiled(args.profile, 0), "-m", "services.cli", "run", "edge",
        "commands", env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    more = [await asyncio.create_subprocess_exec(
        sys.executable, *profiled(args.profile, i), "-m", "services.cli", "run", "commands",
        env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        for i in range(1, args.commands_workers)]
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120,
                                     headers={"Authorization": f"Bearer {member.token}"}) as http:
            deadline = time.monotonic() + 90
            while True:
                try:
                    if (await http.get("/healthz")).status_code == 200 and await group_members(
                            settings.kafka_bootstrap_servers, prefix + "commands"
                    ) == args.commands_workers:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("the edge did not come up")
                await asyncio.sleep(0.3)
            parts = set(args.only or ["lists", "tags", "export", "bulk", "commands"])
            if "lists" in parts:
                await bench_lists(http, args.requests, args.deep_page)
            if "tags" in parts:
                await bench_tags(http, args.requests)
            if "export" in parts:
                await bench_export(http, url, store_id, edge.pid)
            if "bulk" in parts:
                await bench_bulk_tag(http, url, store_id, args.bulk)
            if "commands" in parts:
                await bench_commands(settings, url, store_id, args.commands, prefix + "commands",
                                     [edge.pid, *(p.pid for p in more)])
            print(f"edge + commands process peak RSS {peak_rss_mb(edge.pid):.0f} MB")
    finally:
        for p in (edge, *more):
            p.send_signal(signal.SIGTERM)
        await asyncio.gather(*(p.wait() for p in (edge, *more)))


if __name__ == "__main__":
    asyncio.run(main())

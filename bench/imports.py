"""`clients import` wall time and memory, beside COPY of the same file in the same run.

    python -m bench.imports [--rows 10000 1000000] [--workers 2] [--profile DIR]

For each size: generates a CSV (realistic names, emails and phones; about 5% duplicates and 1%
bad rows), runs `--workers` processes of `clients run imports relay` in consumer groups of their
own, and times `clients import FILE --json` from command start to its final summary. Prints rows/s,
the CPU the CLI, the workers, PostgreSQL and Kafka used meanwhile, the peak RSS of the CLI and of
each worker, and the baseline: COPY of the same file into a scratch
table. Runs in a database of its own (`<DATABASE_URL's>_bench_imports`), made afresh and dropped
at the end: each run starts from the same empty database.
"""

import argparse
import asyncio
import csv
import json
import os
import random
import resource
import signal
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg

from bench._cpu import CpuMeter, cpu_line, kafka_pids, postgres_pids
from bench._scratch import scratch_database
from bench.ingest import DOMAINS, FIRST, LAST, peak_rss_mb, profiled
from shared import stores
from shared.db import create_pool
from shared.runner import prepare
from shared.settings import Settings
from shared.topics import IMPORT_CHUNKS
from tests.support.databases import drop_database
from tests.support.kafka_helpers import fast_forward, group_members

HEADER = ["Customer ID", "First Name", "Last Name", "Email", "Phone", "Company", "Tags", "Note"]


def make_file(path: Path, rows: int, seed: int = 3) -> None:
    rng = random.Random(seed)
    emails: list[str] = []
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(HEADER)
        for i in range(rows):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            roll = rng.random()
            if emails and roll < 0.05:      # a duplicate of an earlier row, cased differently
                email = rng.choice(emails[-5000:]).upper()
            elif roll < 0.06:               # a bad row
                email = f"{first}.{last}.{i}-at-{DOMAINS[0]}"
            else:
                email = f"{first}.{last}.{i}@{rng.choice(DOMAINS)}".lower().replace(" ", "")
                emails.append(email)
            writer.writerow([f"c{i}", first, last, email, f"+1415{rng.randrange(10**6, 10**7)}",
                             rng.choice(["", "Acme", "Globex", "Initech"]),
                             rng.choice(["", "vip", "wholesale, net-30"]), ""])


async def baseline_copy(settings: Settings, path: Path) -> float:
    conn = await asyncpg.connect(settings.database_url)
    try:
        await conn.execute("CREATE TEMP TABLE bench_import (customer_id text, first_name text, "
                           "last_name text, email text, phone text, company text, tags text, "
                           "note text)")
        start = time.perf_counter()
        await conn.copy_to_table("bench_import", source=path, format="csv", header=True)
        return time.perf_counter() - start
    finally:
        await conn.close()


async def run_import(settings: Settings, path: Path, store_id: uuid.UUID, workers: int,
                     profile: str | None = None) -> dict[str, object]:
    bootstrap = settings.kafka_bootstrap_servers
    prefix = f"bench-{uuid.uuid4().hex[:8]}-"
    await fast_forward(bootstrap, prefix + "imports", [IMPORT_CHUNKS])
    env = {**os.environ, "GROUP_PREFIX": prefix, "LOG_LEVEL": "WARNING", "LOG_FORMAT": "json",
           "DATABASE_URL": settings.database_url}
    procs = [await asyncio.create_subprocess_exec(
        sys.executable, *profiled(profile, i), "-m", "services.cli", "run", "imports", "relay",
        env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        for i in range(workers)]
    try:
        deadline = time.monotonic() + 90
        while await group_members(bootstrap, prefix + "imports") != workers:
            if time.monotonic() > deadline:
                raise RuntimeError("workers did not join their group")
            await asyncio.sleep(0.3)
        meter = CpuMeter(workers=lambda: [p.pid for p in procs], postgres=postgres_pids,
                         kafka=kafka_pids)
        children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        cli = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "services.cli", "import", str(path), "--store", str(store_id),
            "--json", env={**os.environ, "LOG_LEVEL": "WARNING",
                           "DATABASE_URL": settings.database_url},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
        cli_rss = 0.0

        async def watch_cli() -> None:  # its own high-water mark, read until it exits
            nonlocal cli_rss
            while cli.returncode is None:
                try:
                    cli_rss = max(cli_rss, peak_rss_mb(cli.pid))
                except (FileNotFoundError, ProcessLookupError):
                    return
                await asyncio.sleep(0.2)

        watching = asyncio.create_task(watch_cli())
        out, _ = await cli.communicate()
        wall = time.perf_counter() - start
        children = resource.getrusage(resource.RUSAGE_CHILDREN)  # the CLI, now waited for
        cpu = {"clients_import": children.ru_utime + children.ru_stime
               - children_before.ru_utime - children_before.ru_stime, **meter.used()}
        watching.cancel()
        if cli.returncode != 0:
            raise RuntimeError(f"clients import failed ({cli.returncode})")
        worker_rss = [peak_rss_mb(p.pid) for p in procs]
    finally:
        for p in procs:
            if p.returncode is None:
                p.send_signal(signal.SIGTERM)
        await asyncio.gather(*(p.wait() for p in procs))
    return {"wall_s": wall, "summary": json.loads(out), "cli_rss_mb": cli_rss, "cpu_s": cpu,
            "worker_rss_mb": worker_rss}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--profile", metavar="DIR",
                        help="run the workers under cProfile, one .prof file each in DIR")
    args = parser.parse_args()
    # A fresh database per run: a million-row import leaves a million clients (and an
    # append-only audit log) that would slow every later run and the tests' database.
    base = Settings()
    settings = base.model_copy(update={"database_url": await scratch_database(
        base.database_url, "bench_imports", fresh=True)})
    await prepare(settings)
    pool = await create_pool(settings)
    print(f"import bench: {args.workers} worker process(es), {os.cpu_count()} cores; "
          "Kafka and PostgreSQL on this machine; a fresh database")
    started = time.perf_counter()
    probe = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.cli", "--help", stdout=asyncio.subprocess.DEVNULL)
    await probe.wait()
    print(f"  `clients --help` (interpreter and imports, in every figure below): "
          f"{time.perf_counter() - started:.2f} s")
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.rows:
            path = Path(tmp) / f"clients-{n}.csv"
            make_file(path, n)
            store = await stores.create_store(pool, f"bench import {n}")
            copy_s = await baseline_copy(settings, path)
            got = await run_import(settings, path, store.id, args.workers, args.profile)
            s = got["summary"]
            assert isinstance(s, dict)
            wall = float(got["wall_s"])  # type: ignore[arg-type]
            print(f"  {n:,} rows ({path.stat().st_size / 2**20:.0f} MB): "
                  f"{wall:.2f} s from command start to summary, {n / wall:,.0f} rows/s")
            print(f"    summary    {s}")
            cpu = got["cpu_s"]
            assert isinstance(cpu, dict)
            print(f"    CPU        {cpu_line(cpu, n, 'row', wall)}")
            print(f"    peak RSS   clients import {got['cli_rss_mb']:.0f} MB, workers "
                  f"{[round(r) for r in got['worker_rss_mb']]} MB")  # type: ignore[attr-defined]
            print(f"    baseline   COPY of the same file: {copy_s:.2f} s, "
                  f"{n / copy_s:,.0f} rows/s (the import: {copy_s / wall:.4f}x)")
            path.unlink()
    await pool.close()
    await drop_database(settings.database_url)


if __name__ == "__main__":
    asyncio.run(main())

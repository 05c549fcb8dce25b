"""A PostgreSQL outage under running workers: CPU and log volume while it lasts, and recovery.

    python -m bench.outage [--outage-s 20] [--services ingest upsert] [--source DIR]

Starts `clients run SERVICES` (from --source, a checkout of any version, to compare) with its
database reached through a TCP proxy, feeds it a record every 0.2 s, cuts the proxy for
--outage-s seconds, then restores it. Prints the worker's CPU time and what it wrote to stderr
during the outage, beside the same worker idling for as long with the database up (the baseline,
same run), and how long after the restore every record was processed.
"""

import argparse
import asyncio
import os
import sys
import time
import uuid
from urllib.parse import urlsplit

from aiokafka import AIOKafkaProducer

from bench._cpu import cpu_seconds
from shared import stores
from shared.db import create_pool
from shared.runner import prepare
from shared.settings import Settings, servers
from shared.topics import INGEST, UPSERT
from tests.conftest import eventually, free_port
from tests.support.kafka_helpers import consumed_to_end, fast_forward, group_members
from tests.support.tcp_proxy import TcpProxy, through


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser()
    ap.add_argument("--outage-s", type=float, default=20.0)
    ap.add_argument("--services", nargs="+", default=["ingest", "upsert"])
    ap.add_argument("--source", default=".", help="the checkout whose worker to run")
    args = ap.parse_args()
    args.source = os.path.realpath(args.source)
    return args


async def main(args: argparse.Namespace) -> None:
    settings = Settings()
    await prepare(settings)
    pool = await create_pool(settings)
    store = await stores.create_store(pool, f"outage bench {uuid.uuid4().hex[:6]}")
    key = await stores.create_key(pool, store.id, "bench")
    await pool.close()
    bootstrap = settings.kafka_bootstrap_servers
    prefix = f"bench-outage-{uuid.uuid4().hex[:8]}-"
    # Every group the worker joins starts at the topic's end: from the earliest record an
    # upsert group replayed every bench's and test's commands, and the "idle" baseline was
    # that backlog (31% of a core, 596 log lines in 3 s).
    for service, topic in (("ingest", INGEST), ("upsert", UPSERT)):
        if service in args.services:
            await fast_forward(bootstrap, prefix + service, [topic])
    db = urlsplit(settings.database_url)
    source = args.source
    async with TcpProxy(db.hostname or "127.0.0.1", db.port or 5432) as proxy:
        worker = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "services.cli", "run", *args.services, cwd=source,
            env={**os.environ, "PYTHONPATH": source, "GROUP_PREFIX": prefix,
                 "DATABASE_URL": through(settings.database_url, proxy.listen_port),
                 "LOG_FORMAT": "json", "HTTP_PORT": str(free_port())},
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        written = [0, 0]  # bytes, lines

        async def read() -> None:
            assert worker.stderr is not None
            while line := await worker.stderr.readline():
                written[0] += len(line)
                written[1] += 1
        reader = asyncio.create_task(read())
        producer = AIOKafkaProducer(bootstrap_servers=servers(bootstrap))
        await producer.start()

        async def feed(seconds: float) -> None:
            end = time.monotonic() + seconds
            i = 0
            while time.monotonic() < end:
                body = (f'{{"integration_key": "{key.token}", "name": "Out {i}", '
                        f'"email": "o{uuid.uuid4().hex[:10]}@bench.example.com"}}')
                await producer.send_and_wait(INGEST, body.encode())
                i += 1
                await asyncio.sleep(0.2)

        async def phase(seconds: float) -> tuple[float, int, int]:
            cpu0, (b0, l0) = cpu_seconds([worker.pid]), list(written)
            await feed(seconds)
            return cpu_seconds([worker.pid]) - cpu0, written[0] - b0, written[1] - l0
        try:
            async def joined() -> bool:
                return await group_members(bootstrap, prefix + "ingest") == 1
            await eventually(joined, within=90, interval=0.5)
            base = await phase(args.outage_s)
            proxy.cut()
            down = await phase(args.outage_s)
            proxy.restore()
            restored = time.monotonic()
            await consumed_to_end(bootstrap, prefix + "ingest", INGEST, within=120,
                                  interval=0.1)
            recovery = time.monotonic() - restored
        finally:
            await producer.stop()
            worker.terminate()
            await worker.wait()
            await reader
    for name, (cpu, nbytes, nlines) in (("database up (baseline)", base),
                                        (f"database down {args.outage_s:.0f} s", down)):
        print(f"{name:>28}: worker CPU {cpu:6.2f} s ({100 * cpu / args.outage_s:5.1f}% of a "
              f"core), stderr {nbytes / 1024:9.1f} KB in {nlines:6d} lines")
    print(f"{'recovery':>28}: every record processed {recovery:.1f} s after the restore")


if __name__ == "__main__":
    asyncio.run(main(parse_args()))

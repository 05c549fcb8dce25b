"""Outages (hardening, defects 8 and 10): a worker whose database goes away backs off instead of
spinning, says so in a few lines rather than a traceback per retry, and recovers by itself; and
every line it writes, the libraries' included, is one JSON object."""

import asyncio
import json
import os
import sys
import uuid
from typing import Any
from urllib.parse import urlsplit

from shared import stores
from shared.db import Pool
from shared.settings import Settings
from shared.topics import INGEST
from tests.conftest import eventually, free_port
from tests.support.kafka_helpers import consumed_to_end, fast_forward, group_members, produce
from tests.support.tcp_proxy import TcpProxy, through


async def test_a_database_outage_backs_off_logs_a_few_lines_and_recovers(
        settings: Settings, pool: Pool, store: stores.Store) -> None:
    key = await stores.create_key(pool, store.id, "Outage")
    db = urlsplit(settings.database_url)
    prefix = f"outage-{uuid.uuid4().hex[:8]}-"
    bootstrap = settings.kafka_bootstrap_servers
    await fast_forward(bootstrap, prefix + "ingest", [INGEST])
    async with TcpProxy(db.hostname or "127.0.0.1", db.port or 5432) as proxy:
        worker = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "services.cli", "run", "ingest",
            env={**os.environ, "DATABASE_URL": through(settings.database_url,
                                                       proxy.listen_port),
                 "GROUP_PREFIX": prefix, "LOG_FORMAT": "json", "LOG_LEVEL": "INFO",
                 "HTTP_PORT": str(free_port())},
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        lines: list[bytes] = []

        async def read() -> None:
            assert worker.stderr is not None
            while line := await worker.stderr.readline():
                lines.append(line)
        reader = asyncio.create_task(read())
        try:
            async def joined() -> bool:
                if worker.returncode is not None:
                    raise AssertionError(b"".join(lines).decode()[-3000:])
                return await group_members(bootstrap, prefix + "ingest") == 1
            await eventually(joined, within=60, interval=0.3)

            proxy.cut()
            during = len(lines)
            await produce(bootstrap, INGEST, [{"integration_key": key.token, "name": "Out Age",
                                               "email": "outage@shop.com"}])
            # the worker keeps trying: six attempts refused, then the database comes back
            await eventually(lambda: proxy.refused >= 6, within=60)
            outage_lines = lines[during:]
            proxy.restore()
            await consumed_to_end(bootstrap, prefix + "ingest", INGEST, within=60)
            await eventually(lambda: any(b"outage over" in x for x in lines), within=30)
        finally:
            worker.terminate()
            await asyncio.wait_for(worker.wait(), timeout=30)
            await reader

    parsed: list[dict[str, Any]] = [json.loads(x) for x in lines]   # every line is JSON
    assert all(isinstance(p, dict) for p in parsed)
    assert any(p.get("logger", "").startswith(("aiokafka", "faststream")) for p in parsed)
    said = [json.loads(x) for x in outage_lines]
    assert len(said) <= 4, [p["event"] for p in said]      # not one traceback per retry
    assert [p["event"] for p in said].count("outage: retrying with backoff") == 1
    (over,) = [p for p in parsed if p["event"] == "outage over"]
    assert over["failures"] >= 3
    assert key.token not in b"".join(lines).decode()

"""Every bench runs to its end at a small size and prints its figures beside its baseline.

`make bench` is how the performance work is reported, and a bench drifts silently from the code
it drives: bench/reads.py passed 11 parameters to the export's 14-parameter query for weeks and
died at its export row. The figures here mean nothing (tiny sizes, a shared machine); that each
bench gets through every phase, and names its baseline, does. Each runs against a scratch
database, so the databases the full-size benches build and keep are left alone.
"""

import asyncio
import os
import sys
from urllib.parse import urlsplit

import pytest

from shared.settings import Settings
from tests.conftest import scratch_database_url
from tests.support.databases import database_url_for, drop_database

# bench -> (small-size arguments, lines its output must have)
BENCHES = {
    "ingest": (["--records", "600", "--steady-rate", "300"],
               ["msgs/s", "aiokafka", "p99"]),
    "http": (["--requests", "60", "--concurrency", "4", "--steady-rate", "50", "--steady-s", "1"],
             ["req/s", "baseline", "answers other than 201: none"]),
    "webhooks": (["--events", "200", "--endpoints", "1", "2", "--steady-rate", "100",
                  "--steady-s", "1"], ["deliveries/s", "baseline", "dead"]),
    "imports": (["--rows", "500", "2000"], ["command start to summary", "baseline   COPY"]),
    "orders": (["--orders", "600", "--customers", "150", "--segment-clients", "3000"],
               ["events/s", "baseline: plain aiokafka", "segment job over 3,000 clients",
                "baseline: the bare UPDATE"]),
    "reads": (["--clients", "4000", "--requests", "5", "--commands", "200", "--deep-page", "3",
               "--bulk", "100"],
              ["first page", "page 3 ", "GET /v1/tags", "baseline   COPY",
               "bulk/tags, 100 clients", "commands/s sustained"]),
    "delivery": (["--messages", "200", "--steady-rate", "100", "--edge", "100"],
                 ["callbacks/s", "baseline"]),
    "outage": (["--outage-s", "2"], ["baseline", "processed"]),
}


@pytest.mark.parametrize("name", sorted(BENCHES))
async def test_the_bench_runs_through_and_prints_its_baseline(settings: Settings, name: str
                                                               ) -> None:
    args, expected = BENCHES[name]
    async with scratch_database_url(settings) as url:
        try:
            bench = await asyncio.create_subprocess_exec(
                sys.executable, "-m", f"bench.{name}", *args,
                env={**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "WARNING"},
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
            try:
                out, _ = await asyncio.wait_for(bench.communicate(), timeout=240)
            except TimeoutError:
                bench.kill()
                await bench.wait()
                raise
        finally:  # the databases a bench makes beside DATABASE_URL's
            name_of = urlsplit(url).path.lstrip("/")
            for suffix in ("_bench_reads", "_bench_orders"):
                await drop_database(database_url_for(url, name_of + suffix))
    text = out.decode(errors="replace")
    assert bench.returncode == 0, text[-3000:]
    missing = [line for line in expected if line not in text]
    assert not missing, f"bench.{name} printed no {missing}:\n{text[-3000:]}"

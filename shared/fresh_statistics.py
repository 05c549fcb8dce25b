"""Statistics for the tables that have rows but were never analyzed, within seconds.

Until a table's first ANALYZE the planner guesses, and one guess costs a lot here: that
`deleted_at IS NULL` holds for 0.5% of rows, which makes every partial index on live clients
look tiny. On a fresh database with 23,000 clients the resolver's email lookup took the name
index and read the whole store for each key: 4 s for 500 keys instead of 2 ms (EXPLAIN
ANALYZE). Autovacuum analyzes a new database only when it first visits it, up to
`autovacuum_naptime` (a minute) after the first rows, so a store's first load (the case of a
big import) could run without statistics: importing 200,000 rows into a fresh database, that
lookup took 54 ms a 1,000-row chunk (11 s in all) when autovacuum came late and 11-13 ms with
statistics (`pg_stat_statements`, bench.imports --rows 200000); ingest into a fresh database
at 2,000/s answered in p50 2.2 s, 0.4 s with this (bench.ingest, one run each).

So every process that runs services asks the database every INTERVAL_S to analyze the tables
that have rows and no statistics (analyze_fresh_tables(), migration 0020): half a millisecond
when there are none. Once they have statistics, autovacuum keeps them current.
"""

import asyncio

import asyncpg
import structlog

from shared.db import Pool
from shared.waiting import first_of

log = structlog.get_logger(__name__)

INTERVAL_S = 2.0
ANALYZE_FRESH = "SELECT analyze_fresh_tables()::text AS name"


async def analyze_fresh(pool: Pool) -> list[str]:
    """Analyzes the tables with rows and no statistics; their names."""
    return [r["name"] for r in await pool.fetch(ANALYZE_FRESH)]


async def keep_analyzed(pool: Pool, stop: asyncio.Event) -> None:
    """analyze_fresh every INTERVAL_S until `stop` is set."""
    while not stop.is_set():
        try:
            if analyzed := await analyze_fresh(pool):
                log.info("tables analyzed: they had rows and no statistics", tables=analyzed)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as e:
            log.warning("could not analyze fresh tables, trying again", error=repr(e))
        await first_of(stop, within=INTERVAL_S)

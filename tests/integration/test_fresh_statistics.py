"""A table's first rows get statistics within seconds, not at autovacuum's first visit of the
database (up to a minute): without them the resolver's email lookup read the whole store for
every key (shared/fresh_statistics.py)."""

import asyncio
from collections.abc import AsyncIterator

import pytest

from shared import fresh_statistics, stores
from shared.db import Pool, create_pool
from shared.migrate import migrate
from shared.resolver import resolve_batch
from shared.settings import Settings
from tests.conftest import eventually
from tests.support.factories import command

WRITTEN = ("clients", "client_touches", "client_external_ids", "stores", "integration_keys")


@pytest.fixture
async def fresh_pool(settings: Settings, scratch_database: str) -> AsyncIterator[Pool]:
    """A new database whose written tables autovacuum leaves alone: only the code under test
    may analyze them."""
    await migrate(scratch_database)
    pool = await create_pool(settings.model_copy(update={"database_url": scratch_database}))
    for table in WRITTEN:  # constant names
        await pool.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")
    yield pool
    await pool.close()


async def null_share(pool: Pool, table: str, column: str) -> float | None:
    share = await pool.fetchval("SELECT null_frac FROM pg_stats WHERE schemaname = "
                                "current_schema() AND tablename = $1 AND attname = $2",
                                table, column)
    return None if share is None else float(share)


async def test_clients_get_statistics_soon_after_their_first_rows(fresh_pool: Pool) -> None:
    key = await stores.create_key(fresh_pool, (await stores.create_store(fresh_pool, "new")).id,
                                  "first load")
    await resolve_batch(fresh_pool, [command(key, email=f"c{i}@shop.example",
                                             external_id=f"x{i}") for i in range(40)])
    assert await null_share(fresh_pool, "clients", "deleted_at") is None  # nobody analyzed yet

    stop = asyncio.Event()
    keeping = asyncio.create_task(fresh_statistics.keep_analyzed(fresh_pool, stop))
    try:
        async def analyzed() -> bool:
            shares = [await null_share(fresh_pool, t, c) for t, c in (
                ("clients", "deleted_at"), ("client_touches", "request_id"),
                ("client_external_ids", "external_id"))]
            return None not in shares
        await eventually(analyzed, within=30)
        # the planner now knows every client is live (it guessed 0.5% before)
        assert await null_share(fresh_pool, "clients", "deleted_at") == 1.0
        # a table without rows is left for later: analyzed now, it would stay without
        # statistics when its first rows come
        assert await fresh_pool.fetchval(
            "SELECT analyze_count FROM pg_stat_user_tables WHERE relname = 'orders'") == 0
    finally:
        stop.set()
        await keeping


async def test_a_table_someone_else_holds_is_left_for_the_next_round(fresh_pool: Pool) -> None:
    key = await stores.create_key(fresh_pool, (await stores.create_store(fresh_pool, "held")).id,
                                  "first load")
    await resolve_batch(fresh_pool, [command(key, email=f"h{i}@shop.example") for i in range(5)])
    async with fresh_pool.acquire() as holder, holder.transaction():
        # what autovacuum holds while it vacuums the table
        await holder.execute("LOCK TABLE clients IN SHARE UPDATE EXCLUSIVE MODE")
        analyzed = await asyncio.wait_for(fresh_statistics.analyze_fresh(fresh_pool), 10)
        assert "clients" not in analyzed
        assert "client_touches" in analyzed  # the others are not held up
    assert await fresh_statistics.analyze_fresh(fresh_pool) == ["clients"]
    assert await null_share(fresh_pool, "clients", "deleted_at") == 1.0

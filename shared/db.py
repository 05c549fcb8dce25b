"""The asyncpg pool: jsonb travels as Python objects; statements are planned with current stats.

asyncpg prepares every statement. After five runs PostgreSQL may switch a prepared statement to
a generic plan, chosen while a table was still small (a sequential scan), and keep it for the
connection's life: on a fresh deployment the batch joins then crawl (measured: 1,358 instead of
5,775 msgs/s in bench/ingest.py). Our statements each carry a whole batch, so planning them every
time costs nothing that shows — except where batches hold one record: the resolver's
transactions ask for generic plans (shared/resolver_sql.py::GENERIC_PLANS says why and what it
measured).

A connection goes back to the pool without asyncpg's reset query (RESET ALL, CLOSE ALL, UNLISTEN
*, pg_advisory_unlock_all: one more round trip on every release). Nothing here leaves session
state on a pooled connection: LISTEN and session advisory locks (relay, eraser, migrations, the
listener, the dispatchers) live on connections of their own, and every other lock is
transaction-scoped; asyncpg still rolls back a transaction left open. Measured under
bench/http.py: 27,125 resets for 8,050 requests, a third of the statements the edge's sessions
ran; without them 446 -> 505 req/s at 50 concurrent, p50 163 -> 109 ms at 500 req/s.
"""

import json
from typing import TYPE_CHECKING, TypeAlias

import asyncpg

from shared.settings import Settings

if TYPE_CHECKING:  # asyncpg's classes are generic only in its stubs
    from asyncpg.pool import PoolConnectionProxy

    Pool: TypeAlias = asyncpg.Pool[asyncpg.Record]
    Connection: TypeAlias = (asyncpg.Connection[asyncpg.Record]
                             | PoolConnectionProxy[asyncpg.Record])
else:
    Pool = asyncpg.Pool
    Connection = asyncpg.Connection


async def _init_connection(conn: "asyncpg.Connection[asyncpg.Record]") -> None:
    for pg_type in ("json", "jsonb"):
        await conn.set_type_codec(
            pg_type, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )


async def _keep_session(conn: "asyncpg.Connection[asyncpg.Record]") -> None:
    """The pool's reset on release: nothing to undo (see the module's docstring)."""


async def create_pool(settings: Settings, url: str | None = None) -> Pool:
    """A pool on `url`, by default the primary (DATABASE_URL)."""
    pool = await asyncpg.create_pool(
        url or settings.database_url,
        min_size=settings.db_pool_min_size,
        max_size=settings.db_pool_max_size,
        init=_init_connection,
        reset=_keep_session,
        server_settings={"plan_cache_mode": "force_custom_plan"},
    )
    assert pool is not None
    return pool

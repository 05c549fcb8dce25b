"""The asyncpg pool: jsonb travels as Python objects."""

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


async def create_pool(settings: Settings) -> Pool:
    pool = await asyncpg.create_pool(
        settings.database_url,
        min_size=settings.db_pool_min_size,
        max_size=settings.db_pool_max_size,
        init=_init_connection,
    )
    assert pool is not None
    return pool

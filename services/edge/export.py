"""GET /v1/clients/export.csv: the current filter as CSV, streamed by PostgreSQL's COPY.

COPY formats the rows in the server; the edge only forwards its chunks through a small queue,
so memory stays flat whatever the number of rows and a slow reader slows the COPY down (the
queue's bound is the back-pressure). A reader that goes away cancels the COPY."""

import asyncio
from collections.abc import AsyncIterator
from uuid import UUID

from services.edge import reads_sql as sql
from services.edge.reads import ClientQuery
from shared.db import Pool

CHUNKS_IN_FLIGHT = 8


async def export_csv(pool: Pool, store_id: UUID, query: ClientQuery) -> AsyncIterator[bytes]:
    queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=CHUNKS_IN_FLIGHT)

    async def sink(chunk: bytes) -> None:
        await queue.put(bytes(chunk))

    async def copy() -> None:
        try:
            async with pool.acquire() as conn:
                await conn.copy_from_query(sql.export_clients(query.archived), store_id,
                                           *query.params(), output=sink, format="csv",
                                           header=True)
        finally:  # the end mark, unless the reader has gone (cancelled: nobody reads it)
            if not asyncio.current_task().cancelling():  # type: ignore[union-attr]
                await queue.put(None)

    task = asyncio.create_task(copy())
    try:
        while (chunk := await queue.get()) is not None:
            yield chunk
        await task  # an error of the COPY ends the stream with it
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

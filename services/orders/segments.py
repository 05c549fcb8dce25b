"""The daily job: segments that move with time alone (one order 30 days ago is no longer new;
no order for 90 days is at risk), without any new event. Set-based, in slices by id, each slice
one transaction with its audit entries and `client.updated` events; processes running it at
once skip each other's rows. Every `SEGMENTS_JOB_INTERVAL_S` (a day), first at start."""

import asyncio
from datetime import datetime
from uuid import UUID

import asyncpg
import structlog

from services.orders import sql
from shared import audit
from shared.audit import Actor, AuditEntry
from shared.db import Pool
from shared.outage import run_until_stopped
from shared.outbox import add_events, client_event
from shared.resources import Deps
from shared.stats import Rules
from shared.waiting import first_of

log = structlog.get_logger(__name__)
ACTOR = Actor("system", None, "segments")


async def move_segments(pool: Pool, rules: Rules, now: datetime, slice_: int = 5000) -> int:
    """Every live client whose segment `now` changes, moved; how many."""
    moved, after = 0, UUID(int=0)
    while True:
        async with pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(sql.MOVE_SEGMENTS, now, *rules.segment_args(), slice_,
                                    after)
            if not rows:
                return moved
            await audit.record(conn, [AuditEntry(
                store_id=r["store_id"], client_id=r["id"], client_version=r["version"], at=now,
                actor=ACTOR, action="segment", changes={"segment": [r["segment_before"],
                                                                    r["segment"]]},
                command_id=None) for r in rows])
            await add_events(conn, [client_event("client.updated", dict(r), now, ["segment"])
                                    for r in rows])
        moved += len(rows)
        after = max(r["id"] for r in rows)


async def run_segments(deps: Deps, stop: asyncio.Event) -> None:
    rules = Rules.of(deps.settings)

    async def rounds() -> None:
        while not stop.is_set():
            moved = await move_segments(deps.pool, rules, rules.now())
            log.info("segments moved", moved=moved)
            await first_of(stop, within=deps.settings.segments_job_interval_s)

    await run_until_stopped("segments", stop, rounds,
                            (OSError, asyncpg.PostgresError, asyncpg.InterfaceError))

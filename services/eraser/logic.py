"""Due erasure requests, each erased in one transaction: every copy of the person's data
(shared/erasure.py), an audit entry, `client.erased` (the client id only) through the outbox to
the events topic and webhooks, and the request marked done with its receipt (rows touched per
table). A crash mid-erasure rolls the whole request back; the next round runs it again. A done
request is never claimed again, so erasing twice is a no-op.

The time comes from the settings (CLOCK_OFFSET_S moves it ahead): a test or a drill makes a
request due without waiting seven days.
"""

import asyncio
import uuid
from datetime import datetime
from typing import Any

import asyncpg
import structlog

from schemas.events import ClientErased
from services.eraser import sql
from shared import audit
from shared.audit import Actor, AuditEntry
from shared.db import Pool
from shared.erasure import erase_client
from shared.outage import run_until_stopped
from shared.outbox import add_events
from shared.resources import Deps
from shared.waiting import first_of

log = structlog.get_logger(__name__)


async def erase_due(pool: Pool, now: datetime) -> list[dict[str, Any]]:
    """Every request due at `now`, one transaction each; their receipts."""
    receipts: list[dict[str, Any]] = []
    while True:
        async with pool.acquire() as conn, conn.transaction():
            request = await conn.fetchrow(sql.CLAIM, now)
            if request is None:
                return receipts
            locked = await conn.fetchrow(sql.LOCK_CLIENT, request["client_id"])
            assert locked is not None  # the request's foreign key
            client = dict(locked)
            touched = await erase_client(conn, client, now)
            version = client["version"] + touched["clients"]
            await audit.record(conn, [AuditEntry(
                store_id=request["store_id"], client_id=request["client_id"],
                client_version=version, at=now,
                actor=Actor("system", None, "erasure"), action="erased", changes={},
                command_id=request["command_id"])])
            await add_events(conn, [ClientErased(
                id=uuid.uuid5(request["id"], "client.erased"), occurred_at=now,
                store_id=request["store_id"], client_id=request["client_id"])])
            await conn.execute(sql.DONE, request["id"], now, touched)
        log.info("client erased", erasure_id=str(request["id"]),
                 client_id=str(request["client_id"]), touched=touched)
        receipts.append({"erasure_id": request["id"], "touched": touched})


async def run_eraser(deps: Deps, stop: asyncio.Event) -> None:
    """Until `stop`: lead when the lock is free, else stand by; survive outages."""
    await run_until_stopped("eraser", stop, lambda: _lead(deps, stop),
                            (OSError, asyncpg.PostgresError, asyncpg.InterfaceError))


async def _lead(deps: Deps, stop: asyncio.Event) -> None:
    settings = deps.settings
    conn = await asyncpg.connect(settings.database_url)  # holds the lock
    try:
        while not await conn.fetchval(sql.TRY_LEAD, sql.LEADER_LOCK_KEY):
            await first_of(stop, within=settings.erasure_poll_s)
            if stop.is_set():
                return
        log.info("eraser leading")
        while not stop.is_set():
            await erase_due(deps.pool, settings.now())
            due_in = await conn.fetchval(sql.NEXT_DUE, settings.now())
            wait = settings.erasure_poll_s if due_in is None else max(float(due_in), 0.01)
            await first_of(stop, within=min(wait, settings.erasure_poll_s))
    finally:
        await conn.close()  # closing the session releases the lock

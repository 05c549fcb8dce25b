"""Is this process able to do its work: does the database answer, does the broker answer?"""

import asyncio

from shared.resources import Deps


async def database_ok(deps: Deps) -> bool:
    try:
        async with asyncio.timeout(deps.settings.health_timeout_s):
            value = await deps.pool.fetchval("SELECT 1")
    except Exception:  # refused, timed out, auth failed...: not healthy, whatever the cause
        return False
    return bool(value == 1)


async def broker_ok(deps: Deps) -> bool:
    try:
        return await deps.broker.ping(timeout=deps.settings.health_timeout_s)
    except Exception:
        return False


async def check(deps: Deps) -> dict[str, bool]:
    database, broker = await asyncio.gather(database_ok(deps), broker_ok(deps))
    return {"database": database, "broker": broker}

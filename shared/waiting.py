"""Waiting for whichever comes first (the background loops). (The edge waits for a row to
appear without polling: shared/notify.Listener.wait_for.)"""

import asyncio

from shared.db import Pool


async def first_of(*events: asyncio.Event, within: float) -> None:
    """Return when any event is set, or after `within` seconds."""
    waiters = [asyncio.create_task(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, timeout=within, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()


async def until_due(pool: Pool, query: str, cap: float) -> float:
    """How long to sleep before the earliest scheduled row falls due: `query` gives seconds
    (or NULL when nothing is scheduled); at least 10 ms, at most `cap`."""
    seconds = await pool.fetchval(query)
    return cap if seconds is None else min(max(float(seconds), 0.01), cap)

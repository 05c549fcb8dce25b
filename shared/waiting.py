"""Waiting: for whichever comes first (the background loops), for a row to appear (the edge)."""

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from shared.db import Pool

T = TypeVar("T")


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


async def poll(fetch: Callable[[], Awaitable[T | None]], within: float) -> T | None:
    """What `fetch()` answers once it answers something (asked again after 5 ms, doubling to
    100 ms: a result usually lands within milliseconds); None after `within` seconds."""
    deadline = time.monotonic() + within
    pause = 0.005
    while True:
        found = await fetch()
        if found is not None:
            return found
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        await asyncio.sleep(min(pause, left))
        pause = min(pause * 2, 0.1)

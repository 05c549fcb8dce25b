"""Waiting for whichever comes first, for the background loops."""

import asyncio


async def first_of(*events: asyncio.Event, within: float) -> None:
    """Return when any event is set, or after `within` seconds."""
    waiters = [asyncio.create_task(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, timeout=within, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()

"""What the benches that drive a local `clients run edge` share."""

import asyncio

import aiohttp


async def until_healthy(http: aiohttp.ClientSession, base: str, within_s: float = 60) -> None:
    """Return once the edge at `base` answers /healthz with 200 (it is starting up)."""
    for _ in range(int(within_s / 0.2)):
        try:
            async with http.get(f"{base}/healthz") as r:
                if r.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.2)
    raise RuntimeError(f"the edge at {base} did not become healthy")

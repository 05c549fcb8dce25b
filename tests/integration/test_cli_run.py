"""`clients run` as an operator runs it: a real process, real signals."""

import asyncio
import os
import signal
import sys

import httpx
import pytest

from tests.conftest import eventually, free_port


async def start(*services: str) -> tuple[asyncio.subprocess.Process, int]:
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.cli", "run", *services,
        env={**os.environ, "HTTP_PORT": str(port), "LOG_FORMAT": "json"},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    return proc, port


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_run_serves_health_and_stops_cleanly_on_signal(sig: signal.Signals) -> None:
    proc, port = await start("edge")
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            async def healthy() -> bool:
                if proc.returncode is not None:
                    raise AssertionError(f"clients run exited with {proc.returncode}")
                try:
                    return (await http.get("/healthz")).status_code == 200
                except httpx.TransportError:
                    return False
            await eventually(healthy, within=60, interval=0.2)
        proc.send_signal(sig)
        _, stderr = await asyncio.wait_for(proc.communicate(), timeout=30)
    finally:
        if proc.returncode is None:
            proc.kill()
    assert proc.returncode == 0, stderr.decode()
    assert b'"services stopped"' in stderr


async def test_unknown_service_is_refused_with_the_known_ones() -> None:
    proc, _ = await start("nope")
    _, stderr = await asyncio.wait_for(proc.communicate(), timeout=30)
    assert proc.returncode == 2
    assert b"unknown service" in stderr
    assert b"edge" in stderr

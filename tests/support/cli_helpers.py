"""`clients …` in a real process, as a user runs it (optionally as a member: CLIENTS_TOKEN)."""

import asyncio
import json
import os
import sys
from typing import Any


async def cli(*args: str, token: str | None = None) -> tuple[int, Any, str]:
    """(exit code, stdout as JSON when it is JSON else text, stderr)."""
    env = {k: v for k, v in os.environ.items() if k != "CLIENTS_TOKEN"}
    if token:
        env["CLIENTS_TOKEN"] = token
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.cli", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    try:
        parsed = json.loads(out) if out.strip() else None
    except ValueError:
        parsed = out.decode()
    return proc.returncode or 0, parsed, err.decode()

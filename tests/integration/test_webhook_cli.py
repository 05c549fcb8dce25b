"""`clients webhook …`: what an operator types, in a real process."""

import asyncio
import json
import os
import sys
from typing import Any

from shared import stores


async def clients(*args: str) -> tuple[int, Any, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.cli", "webhook", *args,
        env={**os.environ, "WEBHOOK_ALLOWED_NETWORKS": '["127.0.0.1/32"]'},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    return proc.returncode or 0, json.loads(out) if out.strip() else None, err.decode()


async def test_add_list_disable_enable_rotate_and_replay(store: stores.Store) -> None:
    code, added, _ = await clients("add", "--store", str(store.id), "--url",
                                   "http://127.0.0.1:9/hooks/cli", "--events",
                                   "client.created,client.updated")
    assert code == 0
    assert set(added) == {"id", "secret"}
    assert added["secret"].startswith("whsec_")

    _, listed, _ = await clients("list", "--store", str(store.id))
    (endpoint,) = listed
    assert endpoint["id"] == added["id"]
    assert endpoint["event_types"] == ["client.created", "client.updated"]
    assert "secret" not in endpoint
    assert endpoint["disabled_at"] is None

    assert (await clients("disable", added["id"]))[0] == 0
    _, (endpoint,), _ = await clients("list", "--store", str(store.id))
    assert endpoint["disabled_reason"] == "manual"
    code, _, err = await clients("replay", added["id"], "--since", "2026-01-01T00:00:00+00:00")
    assert code == 1
    assert "enable it first" in err
    assert (await clients("enable", added["id"]))[0] == 0
    _, replayed, _ = await clients("replay", added["id"], "--since", "2026-01-01T00:00:00+00:00")
    assert replayed["replayed"] == 0

    _, rotated, _ = await clients("rotate-secret", added["id"])
    assert rotated["id"] == added["id"]
    assert rotated["secret"] != added["secret"]
    assert (await clients("disable", added["id"]))[0] == 0


async def test_unsafe_urls_and_unknown_stores_are_refused_with_a_reason(
        store: stores.Store) -> None:
    code, out, err = await clients("add", "--store", str(store.id), "--url",
                                   "http://169.254.169.254/latest/meta-data/")
    assert (code, out) == (1, None)
    assert "169.254.169.254 is not a public address" in err
    code, _, err = await clients("add", "--store", "00000000-0000-0000-0000-000000000000",
                                 "--url", "http://127.0.0.1:9/x")
    assert code == 1
    assert "no store" in err
    _, listed, _ = await clients("list", "--store", str(store.id))
    assert listed == []

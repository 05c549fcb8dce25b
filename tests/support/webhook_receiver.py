"""A local webhook subscriber speaking the Standard Webhooks contract.

Every request is verified with the maintained `standardwebhooks` library against the secrets
the test gave the hook; requests that do not verify are kept apart (`refused`) and answered
401. Answers follow a per-hook script (status, headers), then 200; a hook can also hang.
"""

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

Answer = int | tuple[int, dict[str, str]]


@dataclass(frozen=True)
class Received:
    at: datetime
    headers: dict[str, str]
    body: str

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Hook:
    name: str
    url: str
    secrets: list[str] = field(default_factory=list)
    script: list[Answer] = field(default_factory=list)
    gate: asyncio.Event | None = None   # set: a hanging hook answers its open requests
    received: list[Received] = field(default_factory=list)   # verified, whatever we answered
    refused: list[Received] = field(default_factory=list)
    open_requests: int = 0

    def verifies(self, r: Received, secret: str) -> bool:
        try:
            Webhook(secret).verify(r.body, r.headers)
        except WebhookVerificationError:
            return False
        return True

    def ids(self) -> list[str]:
        return [r.id for r in self.received]


class Receiver:
    def __init__(self) -> None:
        self.hooks: dict[str, Hook] = {}
        self.base_url = ""

    def hook(self, name: str, *, script: list[Answer] | None = None,
             hang: bool = False) -> Hook:
        h = Hook(name=name, url=f"{self.base_url}/hooks/{name}", script=list(script or []),
                 gate=asyncio.Event() if hang else None)
        self.hooks[name] = h
        return h

    async def handle(self, request: web.Request) -> web.Response:
        h = self.hooks.get(request.match_info["name"])
        if h is None:
            return web.Response(status=404)
        r = Received(at=datetime.now(UTC), headers=dict(request.headers),
                     body=(await request.read()).decode())
        if not any(h.verifies(r, s) for s in h.secrets):
            h.refused.append(r)
            return web.Response(status=401, text="signature does not verify")
        h.received.append(r)
        if h.gate is not None:
            h.open_requests += 1
            try:
                await h.gate.wait()
            finally:
                h.open_requests -= 1
        answer = h.script.pop(0) if h.script else 200
        status, headers = answer if isinstance(answer, tuple) else (answer, {})
        return web.Response(status=status, headers=headers, text=f"answered {status}")


@asynccontextmanager
async def running_receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/hooks/{name}", receiver.handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    receiver.base_url = f"http://127.0.0.1:{port}"
    try:
        yield receiver
    finally:
        for h in receiver.hooks.values():
            if h.gate is not None:
                h.gate.set()
        await runner.cleanup()

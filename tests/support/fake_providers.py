"""Local stand-ins for SendBlue and Resend that speak their documented contracts.

SendBlue: `POST /api/send-message` with `sb-api-key-id` / `sb-api-secret-key`, body
`{"number", "content", "from_number", "status_callback"}`, answering with the message (its
`message_handle`, status QUEUED). Resend: `POST /emails` with `Authorization: Bearer`, an
`Idempotency-Key` (the same key gives the same email id and sends nothing twice), body
`{"from", "to", "subject", "html"|"text"}`, answering `{"id"}` with `ratelimit-*` headers.
Each can answer from a script first (status, headers, body), hang, or (SendBlue) deliver a
status callback to `status_callback` before answering the send.
"""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp import web

Answer = tuple[int, dict[str, str], dict[str, Any]]

SENDBLUE_KEY_ID = "sb-key-id-test"
SENDBLUE_SECRET = "sb-secret-test"
SENDBLUE_SIGNING_SECRET = "sb-signing-secret-test"
RESEND_KEY = "re_test_key"


@dataclass(frozen=True)
class Request:
    at: datetime
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class Provider:
    script: list[Answer] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)   # every authenticated request
    accepted: list[Request] = field(default_factory=list)   # what was actually sent
    gate: asyncio.Event | None = None                       # set: hanging requests go on

    def reset(self) -> None:
        self.script.clear()
        self.requests.clear()
        self.accepted.clear()
        self.gate = None

    async def scripted(self) -> web.Response | None:
        if self.gate is not None:
            await self.gate.wait()
        if not self.script:
            return None
        status, headers, body = self.script.pop(0)
        return web.json_response(body, status=status, headers=headers)


class FakeProviders:
    def __init__(self) -> None:
        self.sendblue = Provider()
        self.resend = Provider()
        self.base_url = ""
        self.callback_first = False   # SendBlue: post DELIVERED to status_callback, then answer
        self.email_ids: dict[str, str] = {}

    async def send_message(self, request: web.Request) -> web.Response:
        if (request.headers.get("sb-api-key-id") != SENDBLUE_KEY_ID
                or request.headers.get("sb-api-secret-key") != SENDBLUE_SECRET):
            return web.json_response({"status": "ERROR", "error_message": "Unauthorized"},
                                     status=401)
        body = await request.json()
        req = Request(datetime.now(UTC), dict(request.headers), body)
        self.sendblue.requests.append(req)
        scripted = await self.sendblue.scripted()
        if scripted is not None:
            return scripted
        self.sendblue.accepted.append(req)
        handle = str(uuid.uuid4())
        answer = {"accountEmail": "shop@example.com", "content": body["content"],
                  "is_outbound": True, "status": "QUEUED", "error_code": None,
                  "error_message": None, "message_handle": handle,
                  "date_sent": req.at.isoformat(), "date_updated": req.at.isoformat(),
                  "from_number": body["from_number"], "number": body["number"],
                  "to_number": body["number"], "was_downgraded": None, "plan": "blue"}
        if self.callback_first:
            async with aiohttp.ClientSession() as http, http.post(
                    body["status_callback"], json={**answer, "status": "DELIVERED"}) as r:
                assert r.status == 200, await r.text()
        return web.json_response(answer, status=202)

    async def emails(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {RESEND_KEY}":
            return web.json_response({"statusCode": 401, "name": "missing_api_key",
                                      "message": "Missing API key"}, status=401)
        body = await request.json()
        req = Request(datetime.now(UTC), dict(request.headers), body)
        self.resend.requests.append(req)
        scripted = await self.resend.scripted()
        if scripted is not None:
            return scripted
        key = request.headers.get("Idempotency-Key")
        if key and key in self.email_ids:
            return web.json_response({"id": self.email_ids[key]})
        email_id = str(uuid.uuid4())
        if key:
            self.email_ids[key] = email_id
        self.resend.accepted.append(req)
        return web.json_response({"id": email_id}, headers={
            "ratelimit-limit": "10", "ratelimit-remaining": "9", "ratelimit-reset": "1"})


@asynccontextmanager
async def running_providers() -> AsyncIterator[FakeProviders]:
    fake = FakeProviders()
    app = web.Application()
    app.router.add_post("/api/send-message", fake.send_message)
    app.router.add_post("/emails", fake.emails)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    fake.base_url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield fake
    finally:
        for p in (fake.sendblue, fake.resend):
            if p.gate is not None:
                p.gate.set()
        await runner.cleanup()


def dumps(body: dict[str, Any]) -> str:
    return json.dumps(body, separators=(",", ":"))

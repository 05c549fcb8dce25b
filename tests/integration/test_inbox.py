"""Inbound messages and the inbox: threads, unread counts, operator commands, store scoping;
inbound SMS and email arrive as signed provider callbacks through the edge."""

import asyncio
import json
import os
import sys
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx

from services.delivery import inbox_reads
from shared.db import Pool
from tests.conftest import eventually
from tests.support import fake_providers as fp
from tests.support.fake_providers import FakeProviders
from tests.support.messaging_helpers import (
    Messaging,
    a_client,
    a_number,
    command,
    store_with_channels,
    svix_headers,
)


async def sms_in(edge_http: httpx.AsyncClient, to: str, sender: str, text: str) -> None:
    """What SendBlue posts for a message a client sent to the store's number."""
    now = datetime.now(UTC).isoformat()
    body = {"accountEmail": "shop@example.com", "content": text, "is_outbound": False,
            "status": "RECEIVED", "error_code": None, "error_message": None,
            "message_handle": str(uuid.uuid4()), "date_sent": now, "date_updated": now,
            "from_number": sender, "number": sender, "to_number": to, "was_downgraded": False,
            "plan": "blue", "media_url": "", "message_type": "message", "group_id": "",
            "participants": [], "send_style": "", "opted_out": False, "error_detail": None,
            "sendblue_number": to}
    r = await edge_http.post("/callbacks/sendblue", json=body,
                             headers={"sb-signing-secret": fp.SENDBLUE_SIGNING_SECRET})
    assert r.status_code == 200, r.text


async def threads(pool: Pool, store_id: uuid.UUID) -> list[dict[str, Any]]:
    return await inbox_reads.threads(pool, store_id)


async def wait_threads(pool: Pool, store_id: uuid.UUID, check: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    async def ok() -> bool:
        nonlocal found
        found = await threads(pool, store_id)
        return bool(check(found))
    await eventually(ok)
    return found


async def test_inbound_sms_threads_join_close_open_anew_and_reopen(
        pool: Pool, messaging: Messaging, edge_http: httpx.AsyncClient) -> None:
    store, number, _ = await store_with_channels(pool)
    sender = a_number()
    await sms_in(edge_http, number, sender, "Hi, is my order ready?")
    (first,) = await wait_threads(pool, store.id, lambda t: len(t) == 1)
    assert (first["status"], first["unread"], first["channel"]) == ("open", 1, "sms")
    assert first["last_preview"] == "Hi, is my order ready?"
    client = await pool.fetchrow("SELECT phone, source_label FROM clients WHERE id = $1",
                                 first["client_id"])
    assert client is not None
    assert (client["phone"], client["source_label"]) == (sender, "sms")

    await sms_in(edge_http, number, sender, "Also, can I add one more?")
    (joined,) = await wait_threads(pool, store.id, lambda t: t and t[0]["unread"] == 2)
    assert joined["id"] == first["id"]
    assert joined["last_preview"] == "Also, can I add one more?"

    await command(messaging.settings, command="mark_read", store_id=store.id,
                  thread_id=first["id"])
    await wait_threads(pool, store.id, lambda t: t[0]["unread"] == 0)

    await command(messaging.settings, command="close", store_id=store.id,
                  thread_id=first["id"])
    await wait_threads(pool, store.id, lambda t: t[0]["status"] == "closed")
    await sms_in(edge_http, number, sender, "One more thing")
    newest, closed = await wait_threads(pool, store.id, lambda t: len(t) == 2)
    assert newest["id"] != first["id"]
    assert (newest["status"], newest["unread"]) == ("open", 1)
    assert (closed["id"], closed["status"]) == (first["id"], "closed")

    # The old thread can be re-opened once the client has no other open thread. (Commands
    # are ordered per thread only: the close of the newest one must land first.)
    await command(messaging.settings, command="reopen", store_id=store.id,
                  thread_id=first["id"])
    await command(messaging.settings, command="close", store_id=store.id,
                  thread_id=newest["id"])
    await wait_threads(pool, store.id, lambda t: {x["status"] for x in t} == {"closed"})
    await command(messaging.settings, command="reopen", store_id=store.id,
                  thread_id=first["id"])
    found = await wait_threads(pool, store.id, lambda t: {x["id"]: x["status"] for x in t} ==
                               {first["id"]: "open", newest["id"]: "closed"})
    assert len(found) == 2

    detail = await inbox_reads.thread(pool, first["id"], store.id)
    assert [m["text"] for m in detail["messages"]] == ["Hi, is my order ready?",
                                                       "Also, can I add one more?"]
    assert {m["state"] for m in detail["messages"]} == {"received"}


async def test_an_inbound_sms_to_a_number_of_no_store_is_kept(
        pool: Pool, messaging: Messaging, edge_http: httpx.AsyncClient) -> None:
    nobody = a_number()
    await sms_in(edge_http, nobody, a_number(), "wrong number")

    async def kept() -> bool:
        return bool(await pool.fetchval(
            "SELECT count(*) FROM message_callbacks WHERE message_id IS NULL "
            "AND payload->>'to_number' = $1", nobody))
    await eventually(kept)


async def test_an_inbound_sms_from_a_known_client_finds_them(
        pool: Pool, messaging: Messaging, edge_http: httpx.AsyncClient) -> None:
    store, number, _ = await store_with_channels(pool)
    phone = a_number()
    known = await a_client(pool, store.id, phone=phone, name="Known Person")
    await sms_in(edge_http, number, phone, "It's me")
    (thread,) = await wait_threads(pool, store.id, lambda t: len(t) == 1)
    assert thread["client_id"] == known
    assert thread["client_name"] == "Known Person"


async def test_inbound_email_joins_the_clients_thread_by_email(
        pool: Pool, messaging: Messaging, edge_http: httpx.AsyncClient) -> None:
    store, _, address = await store_with_channels(pool)
    known = await a_client(pool, store.id, email="Ana.Buyer@Mail.example")
    body = json.dumps({"type": "email.received", "created_at": "2026-11-24T10:00:00Z",
                       "data": {"email_id": str(uuid.uuid4()),
                                "from": "Ana Buyer <ana.buyer@mail.example>",
                                "to": [address.upper()], "subject": "Question",
                                "text": "Do you ship to Canada?"}})
    r = await edge_http.post("/callbacks/resend", content=body, headers=svix_headers(body))
    assert r.status_code == 200
    (thread,) = await wait_threads(pool, store.id, lambda t: len(t) == 1)
    assert (thread["client_id"], thread["channel"], thread["unread"]) == (known, "email", 1)
    assert thread["last_preview"] == "Do you ship to Canada?"


async def test_a_reply_goes_out_on_the_thread(
        pool: Pool, messaging: Messaging, fake: FakeProviders,
        edge_http: httpx.AsyncClient) -> None:
    fake.sendblue.reset()
    store, number, _ = await store_with_channels(pool)
    sender = a_number()
    await sms_in(edge_http, number, sender, "Ping")
    (thread,) = await wait_threads(pool, store.id, lambda t: len(t) == 1)
    reply_id = uuid.uuid4()
    await command(messaging.settings, command="reply", store_id=store.id,
                  thread_id=thread["id"], channel="sms", text="Pong", message_id=reply_id)
    await eventually(lambda: (any(r.body["content"] == "Pong"
                                       for r in fake.sendblue.accepted)))
    sent = next(r for r in fake.sendblue.accepted if r.body["content"] == "Pong")
    assert (sent.body["number"], sent.body["from_number"]) == (sender, number)
    detail = await inbox_reads.thread(pool, thread["id"], store.id)
    assert [m["text"] for m in detail["messages"]] == ["Ping", "Pong"]
    assert detail["messages"][1]["id"] == reply_id


async def test_a_store_never_sees_another_stores_threads(
        pool: Pool, messaging: Messaging, edge_http: httpx.AsyncClient) -> None:
    a, a_num, _ = await store_with_channels(pool)
    b, b_num, _ = await store_with_channels(pool)
    sender = a_number()  # the same person writes to both stores
    await sms_in(edge_http, a_num, sender, "to A")
    await sms_in(edge_http, b_num, sender, "to B")
    (ta,) = await wait_threads(pool, a.id, lambda t: len(t) == 1)
    (tb,) = await wait_threads(pool, b.id, lambda t: len(t) == 1)
    assert ta["client_id"] != tb["client_id"]  # one client per store
    assert ta["last_preview"] == "to A"

    # Store A's commands on B's thread change nothing, and B's on A's neither.
    await command(messaging.settings, command="mark_read", store_id=a.id, thread_id=tb["id"])
    await command(messaging.settings, command="close", store_id=a.id, thread_id=tb["id"])
    await command(messaging.settings, command="mark_read", store_id=b.id, thread_id=ta["id"])
    # Markers, ordered after them on each thread: read up to long ago (unread stays).
    for store, thread in ((b, tb), (a, ta)):
        await command(messaging.settings, command="mark_read", store_id=store.id,
                      thread_id=thread["id"], at="2000-01-01T00:00:00Z")
    for store, thread in ((b, tb), (a, ta)):
        async def landed(store: Any = store, thread: Any = thread) -> bool:
            detail = await inbox_reads.thread(pool, thread["id"], store.id)
            return detail["operator_last_read_at"] is not None
        await eventually(landed)
    for store in (a, b):
        (still,) = await threads(pool, store.id)
        assert (still["status"], still["unread"]) == ("open", 1)

    code, _, err = await cli("inbox", "thread", str(tb["id"]), "--store", str(a.id))
    assert code == 1
    assert "no thread" in err


async def test_the_inbox_commands(pool: Pool, messaging: Messaging,
                                  edge_http: httpx.AsyncClient) -> None:
    store, number, _ = await store_with_channels(pool)
    first, second = a_number(), a_number()
    await sms_in(edge_http, number, first, "older")
    await wait_threads(pool, store.id, lambda t: len(t) == 1)
    await sms_in(edge_http, number, second, "newer")
    await sms_in(edge_http, number, second, "newest")
    await wait_threads(pool, store.id, lambda t: len(t) == 2 and t[0]["unread"] == 2)

    code, listed, _ = await cli("inbox", "--store", str(store.id))
    assert code == 0
    assert [(t["last_preview"], t["unread"]) for t in listed] == [("newest", 2), ("older", 1)]
    code, detail, _ = await cli("inbox", "thread", listed[0]["id"])
    assert code == 0
    assert [(m["text"], m["state"]) for m in detail["messages"]] == \
        [("newer", "received"), ("newest", "received")]


async def cli(*args: str) -> tuple[int, Any, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.cli", *args, env=dict(os.environ),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    return proc.returncode or 0, json.loads(out) if out.strip() else None, err.decode()




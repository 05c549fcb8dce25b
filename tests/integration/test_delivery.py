"""Sending SMS and email through the local fake SendBlue and Resend, and their callbacks, on the
real broker and database."""

import asyncio
import itertools
import json
import uuid
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from services.delivery import inbox_reads
from shared.callback_url import status_callback_url, status_token
from shared.db import Pool
from shared.settings import Settings
from shared.topics import DELIVERY_CALLBACKS, MESSAGES_EVENTS, MESSAGES_OUTBOUND
from tests.conftest import eventually
from tests.support import fake_providers as fp
from tests.support.fake_providers import FakeProviders
from tests.support.kafka_helpers import Watcher, consumed_to_end, produce
from tests.support.messaging_helpers import (
    CALLBACK_URL_SECRET,
    Messaging,
    a_client,
    message_row,
    running_messaging,
    send,
    stale,
    store_with_channels,
    svix_headers,
)


@pytest.fixture(autouse=True)
def clean_fake(fake: FakeProviders) -> None:
    fake.sendblue.reset()
    fake.resend.reset()
    fake.callback_first = False


async def state_of(pool: Pool, message_id: uuid.UUID) -> str | None:
    row = await message_row(pool, message_id)
    return row["state"] if row else None


async def state_is(pool: Pool, message_id: uuid.UUID, *states: str) -> None:
    async def check() -> bool:
        return await state_of(pool, message_id) in states
    await eventually(check)


async def consumed(s: Settings, topic: str) -> None:
    await consumed_to_end(s.kafka_bootstrap_servers, s.group_prefix + "delivery", topic,
                          within=20)


def outbound(store_id: uuid.UUID, client_id: uuid.UUID, channel: str,
             **fields: Any) -> dict[str, Any]:
    return {"message_id": uuid.uuid4(), "store_id": store_id, "client_id": client_id,
            "channel": channel, **fields}


async def test_sms_and_email_are_sent_once_per_message_id_even_when_redelivered(
        pool: Pool, messaging: Messaging, fake: FakeProviders) -> None:
    store, number, address = await store_with_channels(pool)
    client = await a_client(pool, store.id, phone="+14155550123", email="Mia@Mail.example")
    sms = outbound(store.id, client, "sms", text="Your order shipped")
    email = outbound(store.id, client, "email", subject="Order 1001", html="<p>Shipped</p>")
    async with Watcher(messaging.settings.kafka_bootstrap_servers, MESSAGES_EVENTS) as events:
        await send(messaging.settings, sms, email)
        await send(messaging.settings, sms, email)  # redelivered
        await state_is(pool, sms["message_id"], "queued")
        await consumed(messaging.settings, MESSAGES_OUTBOUND)
        await eventually(lambda: (len(fake.sendblue.accepted) == 1
                                       and len(fake.resend.accepted) == 1))
        queued = await events.take(lambda v: v["message_id"] in (str(sms["message_id"]),
                                                                  str(email["message_id"])), 2)
    assert {e["state"] for e in queued} == {"queued"}

    (sent_sms,) = fake.sendblue.requests
    assert sent_sms.body == {"number": "+14155550123", "content": "Your order shipped",
                             "from_number": number,
                             "status_callback": status_callback_url(
                                 messaging.base_url, CALLBACK_URL_SECRET,
                                 str(sms["message_id"]))}
    (sent_email,) = fake.resend.requests
    assert sent_email.headers["Idempotency-Key"] == str(email["message_id"])
    assert sent_email.body == {"from": address, "to": ["Mia@Mail.example"],
                               "subject": "Order 1001", "html": "<p>Shipped</p>"}

    async def recorded() -> bool:
        rows = [await message_row(pool, m["message_id"]) for m in (sms, email)]
        return all(r is not None and r["provider_id"] for r in rows)
    await eventually(recorded)
    row = await message_row(pool, sms["message_id"])
    assert row is not None
    assert (row["provider"], row["send_attempts"], row["thread_id"] is not None) == \
        ("sendblue", 1, True)


async def test_in_app_messages_stay_in_the_thread(pool: Pool, messaging: Messaging,
                                                   fake: FakeProviders) -> None:
    store, _, _ = await store_with_channels(pool)
    client = await a_client(pool, store.id)
    note = outbound(store.id, client, "in_app", text="We saved your size")
    await send(messaging.settings, note)
    await state_is(pool, note["message_id"], "delivered")
    await consumed(messaging.settings, MESSAGES_OUTBOUND)
    assert fake.sendblue.requests == []
    assert fake.resend.requests == []


async def test_messages_to_one_client_share_one_thread_and_a_foreign_thread_is_refused(
        pool: Pool, messaging: Messaging) -> None:
    store, _, _ = await store_with_channels(pool)
    client, other = await a_client(pool, store.id), await a_client(pool, store.id)
    notes = [outbound(store.id, client, "in_app", text=f"note {i}") for i in range(5)]
    await send(messaging.settings, *notes)
    for n in notes:
        await state_is(pool, n["message_id"], "delivered")
    (thread,) = await inbox_reads.threads(pool, store.id)
    detail = await inbox_reads.thread(pool, thread["id"], store.id)
    assert sorted(m["text"] for m in detail["messages"]) == [f"note {i}" for i in range(5)]

    wrong = outbound(store.id, other, "in_app", text="not yours", thread_id=thread["id"])
    event = await refused(messaging, wrong)
    assert "no thread" in event["error"]
    assert await message_row(pool, wrong["message_id"]) is None


async def refused(messaging: Messaging, message: dict[str, Any]) -> dict[str, Any]:
    """Send `message`; the `failed` event it gets (nothing is sent for it)."""
    async with Watcher(messaging.settings.kafka_bootstrap_servers, MESSAGES_EVENTS) as events:
        await send(messaging.settings, message)
        (event,) = await events.take(lambda v: v["message_id"] == str(message["message_id"]))
    assert event["state"] == "failed"
    found: dict[str, Any] = event
    return found


async def test_an_unreadable_outbound_message_does_not_stop_its_partition(
        pool: Pool, messaging: Messaging) -> None:
    store, _, _ = await store_with_channels(pool)
    client = await a_client(pool, store.id)
    good = outbound(store.id, client, "in_app", text="after the bad one")
    await produce(messaging.settings.kafka_bootstrap_servers, MESSAGES_OUTBOUND,
                  [b"{not json", {"message_id": "nope", "channel": "pigeon"}],
                  keys=[str(good["message_id"])] * 2)
    await send(messaging.settings, good)  # same key: the same partition, after them
    await state_is(pool, good["message_id"], "delivered")


async def test_another_stores_client_is_refused_and_nothing_is_sent(
        pool: Pool, messaging: Messaging, fake: FakeProviders) -> None:
    mine, _, _ = await store_with_channels(pool)
    theirs, _, _ = await store_with_channels(pool)
    their_client = await a_client(pool, theirs.id)
    wrong = outbound(mine.id, their_client, "sms", text="hello")
    event = await refused(messaging, wrong)
    assert "not found in store" in event["error"]
    assert await message_row(pool, wrong["message_id"]) is None
    assert fake.sendblue.requests == []


async def test_429_is_retried_after_its_retry_after(pool: Pool, messaging: Messaging,
                                                    fake: FakeProviders) -> None:
    store, _, _ = await store_with_channels(pool)
    client = await a_client(pool, store.id)
    fake.sendblue.script.append((429, {"Retry-After": "1"}, {"status": "ERROR",
                                                              "error_message": "slow down"}))
    sms = outbound(store.id, client, "sms", text="hi")
    await send(messaging.settings, sms)
    await eventually(lambda: len(fake.sendblue.accepted) == 1)
    first, second = fake.sendblue.requests
    assert (second.at - first.at).total_seconds() >= 0.95  # backoff alone: 0.05 s

    async def recorded() -> bool:
        row = await message_row(pool, sms["message_id"])
        return row is not None and row["send_attempts"] == 2
    await eventually(recorded)


async def test_emails_wait_when_resends_rate_limit_is_spent(
        pool: Pool, messaging: Messaging, fake: FakeProviders) -> None:
    store, _, _ = await store_with_channels(pool)
    client = await a_client(pool, store.id)
    fake.resend.script.append((200, {"ratelimit-limit": "2", "ratelimit-remaining": "0",
                                     "ratelimit-reset": "1"}, {"id": str(uuid.uuid4())}))
    first = outbound(store.id, client, "email", subject="1", text="one")
    await send(messaging.settings, first)
    await eventually(lambda: len(fake.resend.requests) == 1)
    second = outbound(store.id, client, "email", subject="2", text="two")
    await send(messaging.settings, second)
    await eventually(lambda: len(fake.resend.requests) == 2)
    a, b = fake.resend.requests
    assert (b.at - a.at).total_seconds() >= 0.95
    await state_is(pool, second["message_id"], "queued")


async def test_5xx_until_the_retry_budget_is_spent_fails_the_message(
        pool: Pool, messaging: Messaging, fake: FakeProviders) -> None:
    store, _, _ = await store_with_channels(pool)
    client = await a_client(pool, store.id)
    fake.resend.script.extend([(500, {}, {"message": "internal"})] * 10)
    email = outbound(store.id, client, "email", subject="s", text="t")
    async with Watcher(messaging.settings.kafka_bootstrap_servers, MESSAGES_EVENTS) as events:
        await send(messaging.settings, email)
        failed = await events.take(lambda v: v["message_id"] == str(email["message_id"])
                                   and v["state"] == "failed")
    assert "HTTP 500" in failed[0]["error"]
    assert len(fake.resend.requests) == messaging.settings.send_max_attempts
    row = await message_row(pool, email["message_id"])
    assert row is not None
    assert (row["state"], row["send_attempts"]) == ("failed", messaging.settings.send_max_attempts)


async def test_other_4xx_fail_at_once_with_the_providers_error(
        pool: Pool, messaging: Messaging, fake: FakeProviders) -> None:
    store, _, _ = await store_with_channels(pool)
    client = await a_client(pool, store.id)
    fake.sendblue.script.append((400, {}, {"status": "ERROR",
                                           "error_message": "number is not valid"}))
    sms = outbound(store.id, client, "sms", text="hi")
    await send(messaging.settings, sms)
    await state_is(pool, sms["message_id"], "failed")
    row = await message_row(pool, sms["message_id"])
    assert row is not None
    assert "number is not valid" in row["error"]
    assert len(fake.sendblue.requests) == 1


async def test_a_provider_outage_does_not_hold_up_the_other_provider(
        pool: Pool, messaging: Messaging, fake: FakeProviders) -> None:
    store, _, _ = await store_with_channels(pool)
    client = await a_client(pool, store.id)
    fake.sendblue.gate = asyncio.Event()  # SendBlue hangs
    sms = outbound(store.id, client, "sms", text="stuck")
    email = outbound(store.id, client, "email", subject="s", text="goes")
    await send(messaging.settings, sms, email)
    await eventually(lambda: len(fake.resend.accepted) == 1)
    assert fake.sendblue.accepted == []
    assert await state_of(pool, sms["message_id"]) == "queued"
    fake.sendblue.gate.set()
    await eventually(lambda: len(fake.sendblue.accepted) == 1)


async def test_sms_from_one_number_go_out_one_a_second(
        pool: Pool, messaging: Messaging, fake: FakeProviders) -> None:
    store, _, _ = await store_with_channels(pool)
    client = await a_client(pool, store.id)
    await send(messaging.settings,
               *[outbound(store.id, client, "sms", text=f"n{i}") for i in range(3)])
    await eventually(lambda: len(fake.sendblue.accepted) == 3)
    times = [r.at for r in fake.sendblue.accepted]
    assert all((b - a).total_seconds() >= 0.95 for a, b in itertools.pairwise(times))


async def test_callbacks_signed_by_svix_are_accepted_forged_or_stale_ones_refused(
        pool: Pool, messaging: Messaging, edge_http: httpx.AsyncClient) -> None:
    body = json.dumps({"type": "email.delivered", "created_at": "2026-11-24T10:00:00Z",
                       "data": {"email_id": str(uuid.uuid4())}})
    genuine = svix_headers(body)
    async with Watcher(messaging.settings.kafka_bootstrap_servers, DELIVERY_CALLBACKS) as w:
        assert (await edge_http.post("/callbacks/resend", content=body,
                                headers=genuine)).status_code == 200
        for headers in (svix_headers(body, secret="whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"),
                        svix_headers(body, at=stale()),
                        {k: v for k, v in svix_headers(body).items() if k != "svix-signature"}):
            assert (await edge_http.post("/callbacks/resend", content=body,
                                    headers=headers)).status_code == 401
        tampered = body.replace("delivered", "bounced")
        assert (await edge_http.post("/callbacks/resend", content=tampered,
                                headers=genuine)).status_code == 401

        sb = json.dumps({"message_handle": str(uuid.uuid4()), "status": "DELIVERED",
                         "is_outbound": True})
        assert (await edge_http.post("/callbacks/sendblue", content=sb, headers={
            "sb-signing-secret": fp.SENDBLUE_SIGNING_SECRET})).status_code == 200
        for wrong in ({"sb-signing-secret": "guess"}, {}):
            assert (await edge_http.post("/callbacks/sendblue", content=sb,
                                    headers=wrong)).status_code == 401
        await w.drain(1.0)
    published = [json.loads(r.value or b"{}") for r in w.seen]
    assert sorted(p["provider"] for p in published) == ["resend", "sendblue"]
    assert published[0]["payload"] in (json.loads(body), json.loads(sb))


async def test_out_of_order_and_duplicate_callbacks_end_delivered(
        pool: Pool, messaging: Messaging, fake: FakeProviders,
        edge_http: httpx.AsyncClient) -> None:
    store, _, _ = await store_with_channels(pool)
    client = await a_client(pool, store.id)
    email = outbound(store.id, client, "email", subject="s", text="t")
    await send(messaging.settings, email)

    async def recorded() -> bool:
        row = await message_row(pool, email["message_id"])
        return row is not None and row["provider_id"] is not None
    await eventually(recorded)
    row = await message_row(pool, email["message_id"])
    assert row is not None
    email_id = row["provider_id"]

    async def callback(kind: str, msg_id: str | None = None) -> None:
        body = json.dumps({"type": kind, "created_at": "2026-11-24T10:00:00Z",
                           "data": {"email_id": email_id}})
        r = await edge_http.post("/callbacks/resend", content=body,
                            headers=svix_headers(body, msg_id=msg_id))
        assert r.status_code == 200
    async with Watcher(messaging.settings.kafka_bootstrap_servers, MESSAGES_EVENTS) as events:
        delivered_id = f"msg_{uuid.uuid4().hex}"
        await callback("email.delivered", delivered_id)
        await callback("email.sent")                      # late: changes nothing
        await callback("email.delivered", delivered_id)   # the same callback again
        await callback("email.bounced")                      # after a terminal state
        await consumed(messaging.settings, DELIVERY_CALLBACKS)
        await events.drain(1.0)
    assert await state_of(pool, email["message_id"]) == "delivered"
    states = [json.loads(r.value or b"{}")["state"] for r in events.seen
              if json.loads(r.value or b"{}")["message_id"] == str(email["message_id"])]
    assert states == ["delivered"]
    logged = await pool.fetch("SELECT status FROM message_callbacks WHERE message_id = $1 "
                              "ORDER BY seq", email["message_id"])
    assert [r["status"] for r in logged] == ["email.delivered", "email.sent", "email.bounced"]


async def test_a_callback_that_beats_the_send_answer_is_applied(
        pool: Pool, messaging: Messaging, fake: FakeProviders) -> None:
    store, _, _ = await store_with_channels(pool)
    client = await a_client(pool, store.id)
    fake.callback_first = True  # DELIVERED reaches us before the send is answered
    sms = outbound(store.id, client, "sms", text="fast")
    await send(messaging.settings, sms)
    await state_is(pool, sms["message_id"], "delivered")
    logged = await pool.fetchval("SELECT count(*) FROM message_callbacks WHERE message_id = $1",
                                 sms["message_id"])
    assert logged == 1


async def test_callbacks_for_unknown_messages_are_kept(
        pool: Pool, messaging: Messaging, edge_http: httpx.AsyncClient) -> None:
    handle = str(uuid.uuid4())
    sb = json.dumps({"message_handle": handle, "status": "SENT", "is_outbound": True})
    assert (await edge_http.post("/callbacks/sendblue", content=sb, headers={
        "sb-signing-secret": fp.SENDBLUE_SIGNING_SECRET})).status_code == 200

    async def kept() -> bool:
        return bool(await pool.fetchval(
            "SELECT count(*) FROM message_callbacks WHERE provider_id = $1 "
            "AND message_id IS NULL AND status = 'SENT'", handle))
    await eventually(kept)


async def test_a_sends_own_status_callback_url_is_its_credential(
        pool: Pool, messaging: Messaging, fake: FakeProviders,
        edge_http: httpx.AsyncClient) -> None:
    """SendBlue posts per-send status callbacks without sb-signing-secret: the URL given with
    the send authenticates them, for that message only."""
    store, _, _ = await store_with_channels(pool)
    client = await a_client(pool, store.id)
    sms = outbound(store.id, client, "sms", text="status by url")
    await send(messaging.settings, sms)
    await eventually(lambda: any(r.body["content"] == "status by url"
                                 for r in fake.sendblue.accepted))
    (req,) = [r for r in fake.sendblue.accepted if r.body["content"] == "status by url"]
    url = urlsplit(req.body["status_callback"])
    prefix, message_id, token = url.path.rsplit("/", 2)
    assert (prefix, message_id) == ("/callbacks/sendblue/status", str(sms["message_id"]))
    assert len(token) >= 43                                   # 256 bits, URL-safe

    async def recorded() -> bool:
        row = await message_row(pool, sms["message_id"])
        return row is not None and row["provider_id"] is not None
    await eventually(recorded)
    row = await message_row(pool, sms["message_id"])
    assert row is not None
    status = {"message_handle": row["provider_id"], "status": "DELIVERED", "is_outbound": True}
    other = uuid.uuid4()
    for forged in (f"{prefix}/{message_id}/{token[:-2]}xx", f"{prefix}/{other}/{token}",
                   f"{prefix}/{message_id}/"):
        answer = await edge_http.post(forged, json=status)
        assert answer.status_code in (401, 404), forged
    assert await message_row(pool, sms["message_id"]) == row   # nothing moved
    assert (await edge_http.post(url.path, json=status)).status_code == 200
    await state_is(pool, sms["message_id"], "delivered")


async def test_status_callback_urls_are_refused_without_a_secret(
        pool: Pool, settings: Settings, fake: FakeProviders) -> None:
    async with running_messaging(settings, fake, callback_url_secret="") as m, \
            httpx.AsyncClient(base_url=m.base_url) as http:
        message_id = str(uuid.uuid4())
        path = f"/callbacks/sendblue/status/{message_id}/{status_token('', message_id)}"
        answer = await http.post(path, json={"message_handle": "h", "status": "DELIVERED"})
    assert answer.status_code == 401


async def test_a_token_inside_a_callback_is_redacted_before_it_is_kept(
        pool: Pool, messaging: Messaging, edge_http: httpx.AsyncClient) -> None:
    handle, token = str(uuid.uuid4()), "pck_int_" + "A1b2" * 10
    sb = {"message_handle": handle, "status": "SENT", "is_outbound": True,
          "error_message": f"echo {token}", "nested": [{"k": token}]}
    async with Watcher(messaging.settings.kafka_bootstrap_servers, DELIVERY_CALLBACKS) as w:
        assert (await edge_http.post("/callbacks/sendblue", json=sb, headers={
            "sb-signing-secret": fp.SENDBLUE_SIGNING_SECRET})).status_code == 200
        (published,) = await w.take(lambda v: v["payload"].get("message_handle") == handle)
    assert token not in json.dumps(published)
    assert published["payload"]["nested"] == [{"k": "[redacted]"}]

    async def kept() -> bool:
        return bool(await pool.fetchval(
            "SELECT count(*) FROM message_callbacks WHERE provider_id = $1", handle))
    await eventually(kept)
    stored = await pool.fetchval("SELECT payload::text FROM message_callbacks "
                                 "WHERE provider_id = $1", handle)
    assert token not in stored

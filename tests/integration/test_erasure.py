"""Erasure on the real broker and database: requested through /v1 (archived at once,
cancellable until due), run by the eraser only after the cool-off (the clock injected), leaving
no copy of the person in any text or JSON column while the audit entries stay "[erased]"; a
crash mid-erasure resumes to the same end state; `client.erased` reaches a webhook endpoint."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest

from services.eraser.logic import erase_due
from services.registry import service
from services.webhooks import endpoints
from shared.db import Pool, create_pool
from shared.runner import run
from shared.settings import Settings
from tests.conftest import Pipeline, eventually
from tests.support.api_helpers import Shop
from tests.support.privacy_helpers import a_person, until_erased, where_found
from tests.support.webhook_helpers import hooks_settings, running_webhooks
from tests.support.webhook_receiver import running_receiver


async def request(http: httpx.AsyncClient, shop: Shop, client_id: UUID,
                  who: str = "owner") -> httpx.Response:
    return await http.post("/v1/erasure-requests", headers=shop.auth(who),
                           json={"client_id": str(client_id), "reason": "the client asked"})


async def requested_at(pool: Pool, erasure_id: str) -> Any:
    return await pool.fetchval("SELECT requested_at FROM erasure_requests WHERE id = $1",
                               UUID(erasure_id))


async def test_only_the_erase_scope_asks_for_an_erasure_and_only_export_exports(
        http: httpx.AsyncClient, shop: Shop, pool: Pool) -> None:
    person = await a_person(pool, http, shop, "Scoped")
    for who in ("admin", "member", "viewer", "public"):
        refused = await request(http, shop, person.client_id, who)
        assert refused.status_code == 403, (who, refused.text)
        assert refused.json()["scope"] == "clients:erase"
        listed = await http.get("/v1/erasure-requests", headers=shop.auth(who))
        assert listed.status_code == 403
    for who in ("member", "viewer", "public"):
        exported = await http.get(f"/v1/clients/{person.client_id}/export",
                                  headers=shop.auth(who))
        assert (exported.status_code, exported.json()["scope"]) == (403, "clients:export")
    live = await http.get(f"/v1/clients/{person.client_id}", headers=shop.auth("viewer"))
    assert live.json()["archived_at"] is None  # nothing happened


async def test_a_request_archives_at_once_and_can_be_cancelled_until_it_is_due(
        http: httpx.AsyncClient, shop: Shop, pool: Pool) -> None:
    person = await a_person(pool, http, shop, "Cancel")
    made = await request(http, shop, person.client_id)
    assert made.status_code == 201, made.text
    erasure = made.json()["erasure"]
    assert erasure["status"] == "pending"
    assert erasure["requested_by"]["name"] == "Owner"
    client = (await http.get(f"/v1/clients/{person.client_id}", headers=shop.auth("viewer"))
              ).json()
    assert client["archived_at"] is not None
    cool_off = Settings().erasure_cool_off_s
    assert (await pool.fetchval("SELECT due_at - requested_at FROM erasure_requests "
                                "WHERE id = $1", UUID(erasure["id"]))) == \
        timedelta(seconds=cool_off)

    again = await request(http, shop, person.client_id)  # one pending request per client
    assert (again.status_code, again.json()["erasure"]["id"]) == (200, erasure["id"])
    restore = await http.post(f"/v1/clients/{person.client_id}/restore",
                              headers=shop.auth("admin"))
    assert restore.status_code == 409
    assert "erasure is pending" in restore.json()["result"]["errors"][0]["message"]

    cancelled = await http.delete(f"/v1/erasure-requests/{erasure['id']}",
                                  headers=shop.auth("owner"))
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["erasure"]["status"] == "cancelled"
    client = (await http.get(f"/v1/clients/{person.client_id}", headers=shop.auth("viewer"))
              ).json()
    assert client["archived_at"] is not None
    assert client["email"] == person.email
    # a cancelled request is never run, however late it is
    later = await requested_at(pool, erasure["id"]) + timedelta(seconds=cool_off + 60)
    await erase_due(pool, later)
    assert (await pool.fetchval("SELECT erased_at FROM clients WHERE id = $1",
                                person.client_id)) is None
    listed = await http.get("/v1/erasure-requests", params={"status": "cancelled"},
                            headers=shop.auth("owner"))
    assert [r["id"] for r in listed.json()["requests"]] == [erasure["id"]]
    audit = (await http.get(f"/v1/clients/{person.client_id}/audit",
                            headers=shop.auth("viewer"))).json()["entries"]
    assert [e["action"] for e in audit[:2]] == ["cancel_erasure", "request_erasure"]


async def test_an_erasure_runs_only_after_the_cool_off_and_leaves_no_copy_of_the_person(
        http: httpx.AsyncClient, shop: Shop, pool: Pool) -> None:
    person = await a_person(pool, http, shop, "Erased")
    neighbour = await a_person(pool, http, shop, "Kept")
    made = await request(http, shop, person.client_id)
    assert made.status_code == 201, made.text
    erasure_id = made.json()["erasure"]["id"]
    at = await requested_at(pool, erasure_id)
    cool_off = timedelta(seconds=Settings().erasure_cool_off_s)

    await erase_due(pool, at + cool_off - timedelta(seconds=1))  # not yet
    assert await where_found(pool, person.needles())
    assert (await http.get(f"/v1/erasure-requests/{erasure_id}", headers=shop.auth("owner"))
            ).json()["status"] == "pending"

    await erase_due(pool, at + cool_off + timedelta(seconds=1))
    done = (await http.get(f"/v1/erasure-requests/{erasure_id}", headers=shop.auth("owner"))
            ).json()
    assert done["status"] == "done"
    assert await where_found(pool, person.needles()) == []
    assert set(await where_found(pool, neighbour.needles())) >= {
        "clients.email", "messages.to_addr", "webhook_messages.body", "audit_log.changes"}
    receipt = done["receipt"]
    assert receipt["clients"] == 1
    assert receipt["client_external_ids"] == 1
    assert all(receipt[t] >= 1 for t in ("client_touches", "messages", "message_callbacks",
                                          "threads", "webhook_messages", "webhook_attempts",
                                          "import_rows", "audit_log"))

    client = (await http.get(f"/v1/clients/{person.client_id}", headers=shop.auth("viewer"))
              ).json()
    assert client["name"] == "[erased]"
    assert client["erased_at"] is not None
    assert client["email"] is None
    assert client["phone"] is None
    assert client["tags"] == []
    entries = (await http.get(f"/v1/clients/{person.client_id}/audit", params={"limit": 100},
                              headers=shop.auth("viewer"))).json()["entries"]
    assert entries[0]["action"] == "erased"
    updated = next(e for e in entries if e["action"] == "update")
    assert updated["changes"]["name"] == ["[erased]", "[erased]"]
    assert updated["actor"]["name"] == "Member"  # who and when stay
    bundle = (await http.get(f"/v1/clients/{person.client_id}/export",
                             headers=shop.auth("owner"))).json()
    assert bundle["attestations"][0]["ip"] == "203.0.113.7"  # evidence kept, no name in it
    assert bundle["threads"][0]["messages"][0]["text"] is None

    assert await erase_due(pool, at + cool_off * 2) == []  # erasing twice is a no-op
    restore = await http.post(f"/v1/clients/{person.client_id}/restore",
                              headers=shop.auth("admin"))
    assert restore.status_code == 409
    assert "erased" in restore.text
    again = await request(http, shop, person.client_id)
    assert again.status_code == 409


async def test_the_audit_log_refuses_any_change_but_an_erasures(pool: Pool,
                                                                 http: httpx.AsyncClient,
                                                                 shop: Shop) -> None:
    person = await a_person(pool, http, shop, "Audit")
    seq = await pool.fetchval("SELECT max(seq) FROM audit_log WHERE client_id = $1",
                              person.client_id)
    for change in ("action = 'forged'", "changes = '{\"name\": [\"x\", \"y\"]}'",
                   "actor_name = 'someone else'"):
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await pool.execute(f"UPDATE audit_log SET {change} WHERE seq = $1", seq)  # noqa: S608
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await pool.execute("DELETE FROM audit_log WHERE seq = $1", seq)


# The eraser's session while it waits for the thread the test holds.
BLOCKED = ("SELECT {} FROM pg_stat_activity WHERE datname = current_database() "
           "AND wait_event_type = 'Lock' AND query LIKE 'UPDATE threads%'")


@pytest.fixture
async def eraser_pool(settings: Settings) -> AsyncIterator[Pool]:
    """The eraser's own connections: the test kills one of them."""
    pool = await create_pool(settings.model_copy(update={"db_pool_min_size": 1}))
    yield pool
    await pool.close()


async def test_a_crash_mid_erasure_resumes_to_the_same_end_state(
        http: httpx.AsyncClient, shop: Shop, pool: Pool, eraser_pool: Pool) -> None:
    crashed, twin = (await a_person(pool, http, shop, "Crash"),
                     await a_person(pool, http, shop, "Twin"))
    ids = [(await request(http, shop, p.client_id)).json()["erasure"]["id"]
           for p in (crashed, twin)]
    first_due = await pool.fetchval("SELECT due_at FROM erasure_requests WHERE id = $1",
                                    UUID(ids[0]))
    later = first_due + timedelta(minutes=5)
    await erase_due(pool, first_due - timedelta(microseconds=1))  # earlier requests: done

    # Hold the crashed person's thread: the eraser blocks there, halfway through its steps
    # (the client row, external ids, touches, callbacks and messages already done)...
    async with pool.acquire() as holder:
        lock = holder.transaction()
        await lock.start()
        await holder.execute("SELECT 1 FROM threads WHERE id = $1 FOR UPDATE",
                             crashed.thread_id)
        eraser = asyncio.create_task(erase_due(eraser_pool, later))

        async def blocked_on_the_thread() -> bool:
            return bool(await pool.fetchval(BLOCKED.format("count(*)")))
        await eventually(blocked_on_the_thread)
        # ...and dies there: its session ends, its transaction with it.
        await pool.execute(BLOCKED.format("pg_terminate_backend(pid)"))
        with pytest.raises((asyncpg.PostgresError, asyncpg.InterfaceError, OSError)):
            await eraser
        await lock.rollback()
    assert await where_found(pool, [crashed.email]), "a dead eraser left nothing half-done"
    assert (await pool.fetchval("SELECT count(*) FROM outbox WHERE key = $1 AND "
                                "payload ->> 'type' = 'client.erased'",
                                str(crashed.client_id))) == 0

    await erase_due(eraser_pool, later)  # the next round
    receipts = [(await until_erased(pool, i))["receipt"] for i in ids]
    # the same rows touched as the twin's uninterrupted erasure (the outbox aside: what the
    # relay had not published yet at that moment is a matter of timing)
    assert {**receipts[0], "outbox": 0} == {**receipts[1], "outbox": 0}
    assert await where_found(pool, crashed.needles() + twin.needles()) == []
    assert (await pool.fetchval("SELECT count(*) FROM audit_log WHERE client_id = $1 "
                                "AND action = 'erased'", crashed.client_id)) == 1


async def test_client_erased_reaches_a_subscribed_webhook_endpoint(
        settings: Settings, pipeline: Pipeline, http: httpx.AsyncClient, shop: Shop,
        pool: Pool) -> None:
    """The whole path: the request through /v1, the eraser service (its clock a week ahead),
    the outbox, the relay, the events topic, the webhooks service, a signed POST."""
    ahead = settings.model_copy(update={
        "group_prefix": pipeline.settings.group_prefix, "erasure_poll_s": 0.2,
        "clock_offset_s": settings.erasure_cool_off_s + 60})
    hooked = hooks_settings(settings)
    async with running_receiver() as receiver, running_webhooks(hooked):
        hook = receiver.hook(uuid.uuid4().hex)
        endpoint = await endpoints.add_endpoint(pool, hooked, shop.store.id, hook.url,
                                                ["client.updated", "client.erased"])
        hook.secrets.append(endpoint["secret"])
        person = await a_person(pool, http, shop, "Hooked")
        await eventually(lambda: any(r.json["type"] == "client.updated"
                                     for r in hook.received))
        made = await request(http, shop, person.client_id)
        stop = asyncio.Event()
        eraser = asyncio.create_task(run(ahead, [service("eraser")], stop))
        try:
            await until_erased(pool, made.json()["erasure"]["id"])
            await eventually(lambda: any(r.json["type"] == "client.erased"
                                         for r in hook.received), within=60)
        finally:
            stop.set()
            await eraser
        erased = next(r for r in hook.received if r.json["type"] == "client.erased")
        assert erased.json["data"] == {"id": str(person.client_id)}
        await endpoints.set_enabled(pool, endpoint["id"], False)
    # what the endpoint had been sent before stays only as the client id
    assert await where_found(pool, person.needles()) == []



async def test_a_hostile_erasure_request_is_refused_and_changes_nothing(
        http: httpx.AsyncClient, shop: Shop, pool: Pool) -> None:
    person = await a_person(pool, http, shop, "Hostile")
    for reason in ("why\u0000not", "x" * 1001, "", 7, ["a"]):
        refused = await http.post("/v1/erasure-requests", headers=shop.auth("owner"),
                                  json={"client_id": str(person.client_id), "reason": reason})
        assert refused.status_code == 422, (reason, refused.text)
    surrogate = await http.post(
        "/v1/erasure-requests", headers={**shop.auth("owner"),
                                         "content-type": "application/json"},
        content=b'{"client_id": "%s", "reason": "\\ud800"}' % str(person.client_id).encode())
    assert surrogate.status_code == 422
    elsewhere = await http.post("/v1/erasure-requests", headers=shop.auth("owner"),
                                json={"client_id": str(uuid.uuid4()), "reason": "who?"})
    assert elsewhere.status_code == 404
    assert await pool.fetchval("SELECT count(*) FROM erasure_requests WHERE client_id = $1",
                               person.client_id) == 0

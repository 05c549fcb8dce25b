"""Profile merge (seed 004) on the real broker and database: POST /v1/clients/merge moves every
kind of row that points at the secondary to the primary, recomputes the primary's stats, unites
tags, joins notes, fills blanks, archives the secondary with `merged_into`; the resolver then
sends the secondary's email and external ids to the primary; refusals change nothing; the
events reach a webhook endpoint."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest

from services.webhooks import endpoints
from shared.db import Pool
from shared.settings import Settings
from shared.topics import ORDERS
from tests.conftest import eventually
from tests.support.api_helpers import Shop, a_client, a_shop
from tests.support.kafka_helpers import produce
from tests.support.privacy_helpers import a_person
from tests.support.webhook_helpers import hooks_settings, running_webhooks
from tests.support.webhook_receiver import running_receiver

pytestmark = pytest.mark.usefixtures("pipeline")  # its commands and orders services

T0 = datetime.now(UTC) - timedelta(days=3)
# Every table whose rows a merge moves, by the column that names the client.
MOVED = ("threads", "messages", "client_external_ids", "client_touches", "attestations",
         "client_addresses", "orders", "order_events", "client_notes", "client_contacts",
         "price_overrides")


async def merge(http: httpx.AsyncClient, shop: Shop, primary: UUID, secondary: UUID,
                who: str = "member", **extra: Any) -> httpx.Response:
    return await http.post("/v1/clients/merge", headers=shop.auth(who), json={
        "primary_id": str(primary), "secondary_id": str(secondary), **extra})


async def place(settings: Settings, shop: Shop, order_id: str, email: str, total: int,
                **fields: Any) -> None:
    event = {"type": "order.placed", "store_id": str(shop.store.id), "order_id": order_id,
             "occurred_at": T0.isoformat(), "currency": "USD", "total_minor": total,
             "customer": {"email": email, "name": "Olive Order"}, **fields}
    await produce(settings.kafka_bootstrap_servers, ORDERS, [event],
                  keys=[f"{shop.store.id}:{order_id}"])


async def row(pool: Pool, client_id: UUID) -> dict[str, Any]:
    found = await pool.fetchrow("SELECT * FROM clients WHERE id = $1", client_id)
    assert found is not None
    return dict(found)


async def until_orders(pool: Pool, client_id: UUID, n: int) -> None:
    async def counted() -> bool:
        return bool((await row(pool, client_id))["total_orders"] == n)
    await eventually(counted, within=30)


async def upsert(http: httpx.AsyncClient, shop: Shop, pool: Pool, **body: Any
                 ) -> tuple[UUID, str]:
    """Through the Integration API: the client it resolved to, and how (its touch)."""
    request_id = uuid.uuid4().hex
    answer = await http.post("/integrations/v1/clients", headers=shop.auth("integration"),
                             json={**body, "request_id": request_id})
    assert answer.status_code in (200, 201), answer.text
    outcome = await pool.fetchval("SELECT outcome FROM client_touches WHERE store_id = $1 AND "
                                  "request_id = $2", shop.store.id, request_id)
    return UUID(answer.json()["client"]["id"]), outcome


async def owners(pool: Pool, client_id: UUID) -> dict[str, int]:
    """How many rows of each moved table point at the client."""
    return {t: await pool.fetchval(f"SELECT count(*) FROM {t} WHERE client_id = $1",  # noqa: S608
                                   client_id) for t in MOVED}


async def test_merge_moves_every_kind_of_row_and_the_resolver_follows_it(
        settings: Settings, http: httpx.AsyncClient, shop: Shop, pool: Pool) -> None:
    # The secondary: touch, external id, thread (open) with messages, attestation, an
    # address, an order, tags and notes.
    second = await a_person(pool, http, shop, "Second")
    home = {"address1": "12 Main St", "city": "Springfield", "pincode": "62701"}
    await place(settings, shop, f"o-{uuid.uuid4().hex[:8]}", second.email, 4000,
                shipping_address=home, billing_address={**home, "address1": "9 Elm Rd"})
    await until_orders(pool, second.client_id, 1)
    tagged = await http.post(f"/v1/clients/{second.client_id}/tags", headers=shop.auth("member"),
                             json={"add": ["wholesale-lead", "net-30"]})
    assert tagged.status_code == 200, tagged.text
    noted = await http.post(f"/v1/clients/{second.client_id}/notes",
                            headers=shop.auth("member"), json={"text": "met at the fair"})
    assert noted.status_code == 200, noted.text
    for path, verb, body in (("contacts", "POST", {"email": "ops@second.example"}),
                             ("price-overrides/SKU-9", "PUT",
                              {"price_minor": 900, "currency": "USD"})):
        made = await http.request(verb, f"/v1/clients/{second.client_id}/{path}",
                                  headers=shop.auth("member"), json=body)
        assert made.status_code == 200, made.text

    # The primary: another email, no phone, its own tags, notes, open thread, order, and an
    # address equal to one of the secondary's.
    primary_email = f"first.{uuid.uuid4().hex[:6]}@example.com"
    made = await http.post("/integrations/v1/clients", headers=shop.auth("integration"),
                           json={"email": primary_email, "name": "First Person",
                                 "tags": ["vip-prospect", "net-30"], "notes": "call mornings"})
    primary = UUID(made.json()["client"]["id"])
    await place(settings, shop, f"o-{uuid.uuid4().hex[:8]}", primary_email, 6000,
                shipping_address={**home, "address1": "12, main st."})
    await until_orders(pool, primary, 1)
    await pool.execute(
        "INSERT INTO threads (id, store_id, client_id, channel, status, last_activity_at) "
        "VALUES ($1, $2, $3, 'sms', 'open', now())", uuid.uuid4(), shop.store.id, primary)
    before = await owners(pool, second.client_id)
    assert all(before[t] >= 1 for t in MOVED), before
    version = (await row(pool, primary))["version"]

    answer = await merge(http, shop, primary, second.client_id, expected_version=version)
    assert answer.status_code == 200, answer.text
    result, client = answer.json()["result"], answer.json()["client"]
    assert result["outcome"] == "applied"
    assert set(result["client_ids"]) == {str(primary), str(second.client_id)}

    # the primary: its values kept, blanks filled, tags united, notes joined, stats recomputed
    assert (client["name"], client["email"]) == ("First Person", primary_email)
    assert client["phone"] == second.phone
    assert client["company"] == "Second Co"
    assert client["tags"] == ["vip-prospect", "net-30", "wholesale-lead"]
    assert client["notes"] == f"call mornings\n\n{second.name} likes tea"
    assert (client["total_orders"], client["total_spent_minor"]) == (2, 10_000)
    assert client["segment"] == "returning"
    assert client["version"] == version + 1
    assert client["external_ids"] == {str(shop.key.id): second.external_id}

    # every row moved; the equal address kept once, one default per type
    assert await owners(pool, second.client_id) == dict.fromkeys(MOVED, 0)
    after = await owners(pool, primary)
    assert after["orders"] == 2
    assert after["attestations"] == 1
    assert after["messages"] >= 1
    addresses = await pool.fetch("SELECT type, address1, is_default FROM client_addresses "
                                 "WHERE client_id = $1 ORDER BY type, address1", primary)
    assert [tuple(a) for a in addresses] == [("billing", "9 Elm Rd", True),
                                             ("shipping", "12, main st.", True)]
    assert await pool.fetchval("SELECT count(*) FROM threads WHERE client_id = $1 AND "
                               "status = 'open'", primary) == 1
    gone = await row(pool, second.client_id)
    assert gone["merged_into"] == primary
    assert gone["deleted_at"] is not None
    shown = (await http.get(f"/v1/clients/{second.client_id}", headers=shop.auth("viewer")))
    assert (shown.json()["merged_into"], shown.json()["archived_at"] is not None) == (
        str(primary), True)

    # the resolver follows it: the secondary's email (any case) and external id -> primary
    assert await upsert(http, shop, pool, email=second.email.upper(), name="Again") == (
        primary, "matched_email")
    assert await upsert(http, shop, pool, email="other@example.org", name="Again",
                        external_id=second.external_id) == (primary, "matched_external_id")
    await place(settings, shop, f"o-{uuid.uuid4().hex[:8]}", second.email, 500)
    await until_orders(pool, primary, 3)
    assert (await row(pool, second.client_id))["total_orders"] == 0

    # audited on both; the same command again answers the same and changes nothing
    audits = await pool.fetch("SELECT client_id, changes FROM audit_log WHERE action = 'merge' "
                              "AND client_id = ANY($1::uuid[])", [primary, second.client_id])
    assert {r["client_id"] for r in audits} == {primary, second.client_id}
    primary_entry = next(r["changes"] for r in audits if r["client_id"] == primary)
    assert primary_entry["merged_from"] == [None, str(second.client_id)]
    assert primary_entry["total_orders"] == [1, 2]
    again = await merge(http, shop, primary, second.client_id,
                        command_id=result["command_id"])
    assert again.json()["result"] == result

    # the secondary is merged for good
    restore = await http.post(f"/v1/clients/{second.client_id}/restore",
                              headers=shop.auth("admin"))
    assert restore.status_code == 409
    assert str(primary) in restore.text
    back = await merge(http, shop, second.client_id, primary)
    assert back.status_code == 409


async def test_merges_that_cannot_be_are_refused_and_change_nothing(
        http: httpx.AsyncClient, shop: Shop, pool: Pool) -> None:
    a = await a_client(pool, shop, f"a.{uuid.uuid4().hex[:6]}@example.com",
                       tags=[f"a{i}" for i in range(200)])
    b = await a_client(pool, shop, f"b.{uuid.uuid4().hex[:6]}@example.com",
                       tags=[f"b{i}" for i in range(60)])
    c = await a_client(pool, shop, f"c.{uuid.uuid4().hex[:6]}@example.com", notes="x" * 2000)
    d = await a_client(pool, shop, f"d.{uuid.uuid4().hex[:6]}@example.com", notes="y" * 2000)
    e = await a_client(pool, shop, f"e.{uuid.uuid4().hex[:6]}@example.com", notes="z" * 1999)
    theirs = await a_shop(pool)
    their_client = await a_client(pool, theirs, f"t.{uuid.uuid4().hex[:6]}@example.com")
    archived = await a_client(pool, shop, f"z.{uuid.uuid4().hex[:6]}@example.com")
    assert (await http.delete(f"/v1/clients/{archived}", headers=shop.auth("admin"))
            ).status_code == 200
    snapshot = {i: await row(pool, i) for i in (a, b, c, d, e, their_client, archived)}

    too_many = await merge(http, shop, a, b)
    assert too_many.status_code == 422
    assert too_many.json()["result"]["errors"][0]["field"] == "tags"
    c_into = await merge(http, shop, c, d)
    assert c_into.status_code == 200  # 2000 + 2 + 2000 characters: within 5,000
    too_long = await merge(http, shop, c, e)
    assert too_long.status_code == 422
    assert too_long.json()["result"]["errors"][0]["field"] == "notes"
    assert (await merge(http, shop, a, their_client)).status_code == 404
    assert (await merge(http, shop, their_client, a)).status_code == 404
    assert (await merge(http, shop, a, archived)).status_code == 409
    assert (await merge(http, shop, archived, a)).status_code == 409
    assert (await merge(http, shop, a, a)).status_code == 422
    assert (await merge(http, shop, d, c)).status_code == 409  # d was merged into c: no loop
    assert (await merge(http, shop, a, e, who="viewer")).status_code == 403
    assert (await merge(http, shop, a, e, who="public")).status_code == 403
    for i in (a, b, e, their_client, archived):
        assert await row(pool, i) == snapshot[i]


async def test_merge_events_reach_a_subscribed_webhook_endpoint(
        settings: Settings, http: httpx.AsyncClient, shop: Shop, pool: Pool) -> None:
    hooked = hooks_settings(settings)
    primary = await a_client(pool, shop, f"p.{uuid.uuid4().hex[:6]}@example.com")
    secondary = await a_client(pool, shop, f"s.{uuid.uuid4().hex[:6]}@example.com",
                               phone="+12075550123")
    async with running_receiver() as receiver, running_webhooks(hooked):
        hook = receiver.hook(uuid.uuid4().hex)
        endpoint = await endpoints.add_endpoint(pool, hooked, shop.store.id, hook.url,
                                                ["client.merged", "client.updated"])
        hook.secrets.append(endpoint["secret"])
        answer = await merge(http, shop, primary, secondary)
        assert answer.status_code == 200, answer.text

        def types() -> set[str]:
            return {r.json["type"] for r in hook.received}
        await eventually(lambda: {"client.merged", "client.updated"} <= types(), within=60)
        await endpoints.set_enabled(pool, endpoint["id"], False)
    merged = next(r.json for r in hook.received if r.json["type"] == "client.merged")
    assert (merged["data"]["id"], merged["data"]["merged_into"]) == (str(secondary),
                                                                     str(primary))
    updated = next(r.json for r in hook.received if r.json["type"] == "client.updated")
    assert (updated["data"]["id"], updated["data"]["phone"]) == (str(primary), "+12075550123")
    assert hook.refused == []

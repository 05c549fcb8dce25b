"""The clients API's reads through the running edge, on the real database: each list filter and
sort, keyset pages that stay correct while rows are inserted, totals, limits, the timeline, and
the export that the importer reads back into the same clients."""

import asyncio
import csv
import io
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest

from services.imports import submit as imports
from services.imports.submit import ImportRequest
from shared import stores
from shared.db import Pool
from shared.resolver import resolve_batch
from tests.conftest import Pipeline
from tests.support.api_helpers import Shop, a_client, a_shop
from tests.support.factories import command as upsert

pytestmark = pytest.mark.usefixtures("pipeline")


async def listed(http: httpx.AsyncClient, shop: Shop, **params: Any) -> list[str]:
    """The names on the first page."""
    answer = await http.get("/v1/clients", params=params, headers=shop.auth("viewer"))
    assert answer.status_code == 200, answer.text
    return [c["name"] for c in answer.json()["clients"]]


async def test_each_filter_and_sort(pool: Pool, http: httpx.AsyncClient, shop: Shop) -> None:
    ana = await a_client(pool, shop, "ana@reads.example", name="Ana Lima", company="Acme Corp",
                         phone="(415) 555-0101", tags=["VIP", "net-30"], type="wholesale")
    bea = await a_client(pool, shop, "bea@reads.example", name="Bea Costa", company="Beta",
                         tags=["vip"])
    await a_client(pool, shop, "caio@reads.example", name="Caio Reis")
    await resolve_batch(pool, [upsert(shop.key, email="dora@reads.example", name="Dora Dias",
                                      label="Shopify")])
    blocked = await http.patch(f"/v1/clients/{bea}", headers=shop.auth("member"),
                               json={"status": "BLOCKED"})
    assert blocked.status_code == 200, blocked.text
    archived = await http.delete(f"/v1/clients/{ana}", headers=shop.auth("admin"))
    assert archived.status_code == 200
    await http.post(f"/v1/clients/{ana}/restore", headers=shop.auth("admin"))
    caio = (await http.get("/v1/clients", params={"q": "caio"}, headers=shop.auth("viewer"))
            ).json()["clients"][0]["id"]
    await http.delete(f"/v1/clients/{caio}", headers=shop.auth("admin"))

    assert await listed(http, shop) == ["Ana Lima", "Bea Costa", "Dora Dias"]  # -updated_at
    assert await listed(http, shop, sort="name") == ["Ana Lima", "Bea Costa", "Dora Dias"]
    assert await listed(http, shop, sort="-name") == ["Dora Dias", "Bea Costa", "Ana Lima"]
    assert await listed(http, shop, sort="created_at") == ["Ana Lima", "Bea Costa",
                                                           "Dora Dias"]
    assert await listed(http, shop, sort="-created_at") == ["Dora Dias", "Bea Costa",
                                                            "Ana Lima"]
    assert await listed(http, shop, q="ACME") == ["Ana Lima"]
    assert await listed(http, shop, q="+1 (415) 555-0101") == ["Ana Lima"]
    assert await listed(http, shop, q="5550101") == ["Ana Lima"]
    assert await listed(http, shop, q="bea@READS") == ["Bea Costa"]
    assert await listed(http, shop, q="%") == []           # a LIKE wildcard is a character
    assert await listed(http, shop, tags="vip") == ["Ana Lima", "Bea Costa"]
    assert await listed(http, shop, tags="VIP, net-30") == ["Ana Lima"]
    assert await listed(http, shop, type="wholesale") == ["Ana Lima"]
    assert await listed(http, shop, status="BLOCKED") == ["Bea Costa"]
    assert await listed(http, shop, source="Shopify") == ["Dora Dias"]
    assert await listed(http, shop, archived="true") == ["Caio Reis"]
    created = {c["name"]: datetime.fromisoformat(c["created_at"]) for c in (await http.get(
        "/v1/clients", headers=shop.auth("viewer"))).json()["clients"]}
    assert await listed(http, shop, sort="name",
                        created_after=created["Ana Lima"].isoformat()) == ["Bea Costa",
                                                                           "Dora Dias"]
    assert await listed(http, shop, sort="name",
                        created_before=created["Dora Dias"].isoformat()) == ["Ana Lima",
                                                                             "Bea Costa"]
    got = (await http.get(f"/v1/clients/{ana}", headers=shop.auth("public"))).json()
    assert (got["tags"], got["source_label"], got["version"]) == (["vip", "net-30"],
                                                                   "WooCommerce", 3)


@pytest.mark.parametrize("sort", ["-updated_at", "name", "created_at"])
async def test_pages_by_cursor_cover_every_row_once_while_rows_are_inserted(
        pool: Pool, http: httpx.AsyncClient, shop: Shop, sort: str) -> None:
    before = {str(await a_client(pool, shop, f"p{i}@pages.example", name=f"Person {i:02}"))
              for i in range(25)}
    seen: list[str] = []
    cursor, inserted, totals = None, 0, set()
    while True:
        params: dict[str, Any] = {"sort": sort, "limit": 7, **({"cursor": cursor} if cursor
                                                              else {})}
        page = (await http.get("/v1/clients", params=params, headers=shop.auth("viewer"))).json()
        seen += [c["id"] for c in page["clients"]]
        totals.add((page["total"]["value"], page["total"]["exact"]))
        # between pages, new clients that sort before, among and after the ones listed
        for name in ("Person 00a", "Person 12a", "Person 99"):
            await a_client(pool, shop, f"{uuid.uuid4().hex[:8]}@pages.example", name=name)
            inserted += 1
        cursor = page["next"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen))         # no row twice
    assert before <= set(seen)                 # no row of before skipped
    assert totals == {(25, True)}              # the first page's total, carried along


async def test_limits_cursors_and_totals_are_checked(pool: Pool, http: httpx.AsyncClient,
                                                     shop: Shop) -> None:
    for params in ({"limit": 101}, {"limit": 0}, {"sort": "email"}, {"cursor": "garbage"},
                   {"status": "GONE"}, {"created_after": "yesterday"}):
        answer = await http.get("/v1/clients", params=params, headers=shop.auth("viewer"))
        assert answer.status_code == 422, (params, answer.text)
        assert answer.json()["errors"], answer.text
    await a_client(pool, shop, "one@limits.example")
    await a_client(pool, shop, "two@limits.example")
    first = (await http.get("/v1/clients", params={"limit": 1},
                            headers=shop.auth("viewer"))).json()
    assert first["total"] == {"value": 2, "exact": True}
    other = await http.get("/v1/clients", params={"limit": 1, "q": "one",
                                                  "cursor": first["next"]},
                           headers=shop.auth("viewer"))
    assert other.status_code == 422
    assert "another query" in other.json()["error"]


async def total(http: httpx.AsyncClient, shop: Shop, **params: Any) -> dict[str, Any]:
    answer = await http.get("/v1/clients", params=params, headers=shop.auth("viewer"))
    assert answer.status_code == 200, answer.text
    return dict(answer.json()["total"])


async def test_past_ten_thousand_matches_a_filters_total_is_an_estimate_marked_so(
        pool: Pool, http: httpx.AsyncClient, shop: Shop) -> None:
    now = datetime.now(UTC)
    await pool.execute(
        "INSERT INTO clients (id, store_id, name, email, email_key, created_at, updated_at) "
        "SELECT gen_random_uuid(), $1, 'Bulk ' || i, 'b' || i || '@bulk.example', "
        "'b' || i || '@bulk.example', $2, $2 FROM generate_series(1, 10050) i",
        shop.store.id, now)
    await pool.execute("ANALYZE clients")
    matched = await total(http, shop, q="bulk")
    assert matched["exact"] is False
    assert matched["value"] > 10_000
    assert await total(http, shop, q="b1005") == {"value": 2, "exact": True}  # b1005, b10050
    # without a filter: the store's counter, exact at any size
    assert await total(http, shop) == {"value": 10_050, "exact": True}


async def test_the_store_total_follows_creates_statuses_archives_merges_and_erasures(
        pool: Pool, http: httpx.AsyncClient, shop: Shop) -> None:
    ids = [await a_client(pool, shop, f"n{i}@total.example") for i in range(4)]
    assert await total(http, shop) == {"value": 4, "exact": True}
    assert (await http.delete(f"/v1/clients/{ids[0]}", headers=shop.auth("admin"))
            ).status_code == 200
    assert await total(http, shop) == {"value": 3, "exact": True}
    assert await total(http, shop, archived="true") == {"value": 1, "exact": True}
    assert (await http.post(f"/v1/clients/{ids[0]}/restore", headers=shop.auth("admin"))
            ).status_code == 200
    assert (await http.patch(f"/v1/clients/{ids[1]}", headers=shop.auth("member"),
                             json={"status": "BLOCKED"})).status_code == 200
    assert await total(http, shop, status="BLOCKED") == {"value": 1, "exact": True}
    assert await total(http, shop, status="ACTIVE") == {"value": 3, "exact": True}
    assert (await http.post("/v1/clients/merge", headers=shop.auth("member"), json={
        "primary_id": str(ids[1]), "secondary_id": str(ids[2])})).status_code == 200
    assert await total(http, shop) == {"value": 3, "exact": True}
    asked = await http.post("/v1/erasure-requests", headers=shop.auth("owner"),
                            json={"client_id": str(ids[3]), "reason": "asked"})
    assert asked.status_code in (200, 201, 202), asked.text
    assert await total(http, shop) == {"value": 2, "exact": True}  # archived for its cool-off
    assert await total(http, shop, status="BLOCKED") == {"value": 1, "exact": True}
    other = await a_shop(pool)
    assert await total(http, other) == {"value": 0, "exact": True}
    assert await pool.fetchval("SELECT count(*) FROM clients WHERE store_id = $1 "
                               "AND deleted_at IS NULL", shop.store.id) == 2


async def test_the_store_total_holds_under_concurrent_writers(pool: Pool, shop: Shop) -> None:
    """Writers on many connections at once (each its own counter shard), inserting, archiving
    and deleting: the counters sum to the live rows."""
    insert = ("INSERT INTO clients (id, store_id, name, email, email_key, created_at, updated_at) "
              "SELECT gen_random_uuid(), $1, 'C ' || i, $2 || i || '@conc.example', "
              "$2 || i || '@conc.example', now(), now() FROM generate_series(1, 200) i")

    async def writer(n: int) -> None:
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute(insert, shop.store.id, f"w{n}-")
            await conn.execute("UPDATE clients SET deleted_at = now() WHERE store_id = $1 "
                               "AND email LIKE $2 AND email LIKE '%0@conc.example'",
                               shop.store.id, f"w{n}-%")
            await conn.execute("UPDATE clients SET status = 'BLOCKED' WHERE store_id = $1 "
                               "AND email LIKE $2 AND email LIKE '%1@conc.example'",
                               shop.store.id, f"w{n}-%")
            await conn.execute("DELETE FROM clients WHERE store_id = $1 AND email LIKE $2 "
                               "AND email LIKE '%5@conc.example'", shop.store.id, f"w{n}-%")
    await asyncio.gather(*(writer(n) for n in range(8)))
    counted = {r["status"]: r["n"] for r in await pool.fetch(
        "SELECT status, sum(clients) AS n FROM store_live_clients WHERE store_id = $1 "
        "GROUP BY status", shop.store.id)}
    live = {r["status"]: r["n"] for r in await pool.fetch(
        "SELECT status, count(*) AS n FROM clients WHERE store_id = $1 AND deleted_at IS NULL "
        "GROUP BY status", shop.store.id)}
    assert counted == live == {"ACTIVE": 8 * (200 - 20 - 20 - 20), "BLOCKED": 8 * 20}


async def test_the_timeline_shows_touches_messages_and_audit_newest_first(
        pool: Pool, http: httpx.AsyncClient, shop: Shop) -> None:
    key = shop.tokens["integration"]
    created = await http.post("/integrations/v1/clients", headers={"Authorization":
                                                                    f"Bearer {key}"},
                              json={"email": "tl@timeline.example", "name": "Tim Line",
                                    "request_id": "order-1"})
    client_id = created.json()["client"]["id"]
    thread = uuid.uuid4()
    at = datetime.now(UTC)
    await pool.execute("INSERT INTO threads (id, store_id, client_id, channel, status, "
                       "last_activity_at) VALUES ($1, $2, $3, 'sms', 'open', $4)",
                       thread, shop.store.id, UUID(client_id), at)
    await pool.execute("INSERT INTO messages (id, store_id, client_id, thread_id, direction, "
                       "channel, text, state, created_at, updated_at) VALUES "
                       "($1, $2, $3, $4, 'outbound', 'sms', 'hi', 'delivered', $5, $5)",
                       uuid.uuid4(), shop.store.id, UUID(client_id), thread, at)
    tagged = await http.post(f"/v1/clients/{client_id}/tags", headers=shop.auth("member"),
                             json={"add": ["vip"]})
    assert tagged.status_code == 200
    items: list[dict[str, Any]] = []
    cursor = None
    while True:  # one item a page: the cursor walks the three kinds
        page = (await http.get(f"/v1/clients/{client_id}/timeline",
                               params={"limit": 1, **({"cursor": cursor} if cursor else {})},
                               headers=shop.auth("viewer"))).json()
        items += page["items"]
        if (cursor := page["next"]) is None:
            break
    kinds = [(i["kind"], i["detail"].get("action") or i["detail"].get("channel")
              or i["detail"].get("request_id")) for i in items]
    assert kinds[0] == ("audit", "tag")
    assert sorted(kinds) == sorted([("audit", "tag"), ("message", "sms"),
                                    ("audit", "created"), ("touch", "order-1")])
    assert [i["at"] for i in items] == sorted((i["at"] for i in items), reverse=True)


async def test_export_then_import_into_an_empty_store_recreates_the_same_clients(
        pool: Pool, http: httpx.AsyncClient, shop: Shop, pipeline: Pipeline,
        tmp_path: Path) -> None:
    people: list[dict[str, Any]] = [
        {"email": "ana@export.example", "name": "Ana Lima", "first_name": "Ana",
         "last_name": "Lima", "company": "Acme, Inc.", "tags": ["vip", "net-30"],
         "notes": 'said "hi"\non two lines', "type": "wholesale", "accepts_marketing": True,
         "date_of_birth": "1980-02-29", "allergies": "latex", "instagram": "@ana.lima",
         "facebook": "facebook.com/ana.lima", "preferred_contact": "text",
         "discovery_source": "referral", "customer_since": "2020-01-15", "currency": "USD",
         "qbo_id": "QB-7", "wholesale_terms": "Net 30", "tax_exempt": True,
         "resale_certificate": "cert.pdf", "resale_certificate_expires_on": "2027-06-30",
         "is_consignor": True, "consignor_code": "ana1",
         "addresses": [{"type": "shipping", "address1": "1 Elm St",
                                           "city": "Portland", "state": "ME",
                                           "pincode": "04101", "country": "US"}]},
        {"email": "zoe@export.example", "name": "Zoë Ñúñez", "phone": "(415) 555-2671"},
        {"phone": "+1 415 555 0199", "name": "Phone Only"},
        {"email": "formula@export.example", "name": '=HYPERLINK("http://evil.example")',
         "company": "@SUM(A1)", "notes": "-2+3"},
    ]
    for person in people:
        await resolve_batch(pool, [upsert(shop.key, **person)])
    gone = await a_client(pool, shop, "gone@export.example")
    await http.delete(f"/v1/clients/{gone}", headers=shop.auth("admin"))

    answer = await http.get("/v1/clients/export.csv", headers=shop.auth("admin"))
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    assert answer.headers["content-disposition"] == \
        f'attachment; filename="clients-{today}.csv"'
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert len(rows) == 4    # the archived client is not exported
    guarded = next(r for r in rows if r["Email"] == "formula@export.example")
    assert (guarded["Name"], guarded["Company"], guarded["Notes"]) == (
        '\'=HYPERLINK("http://evil.example")', "'@SUM(A1)", "'-2+3")   # no cell runs
    assert {r["Phone"] for r in rows} >= {"'+14155552671", "'+14155550199"}

    path = tmp_path / f"clients-{today}.csv"
    path.write_bytes(answer.content)
    empty = await stores.create_store(pool, f"copy {uuid.uuid4().hex[:8]}")
    final = await imports.submit(pipeline.settings, pool,
                                 ImportRequest(path=path, store_id=empty.id), lambda _: None)
    assert final.created == 4, final
    assert await clients_of(pool, empty.id) == await clients_of(pool, shop.store.id)


async def clients_of(pool: Pool, store_id: UUID) -> list[tuple[Any, ...]]:
    rows = await pool.fetch(
        "SELECT name, first_name, last_name, email, phone, company, type, tags, notes, "
        "accepts_marketing, date_of_birth, allergies, instagram, facebook, preferred_contact, "
        "discovery_source, customer_since, currency, qbo_id, wholesale_terms, tax_exempt, "
        "resale_certificate, resale_certificate_expires_on, is_consignor, consignor_code, "
        "(SELECT array_agg(row("
        "a.address1, a.city, a.state, a.pincode, a.country)::text) FROM client_addresses a "
        "WHERE a.client_id = c.id) AS addresses "
        "FROM clients c WHERE store_id = $1 AND deleted_at IS NULL ORDER BY name", store_id)
    return [tuple(r) for r in rows]


async def test_export_needs_its_scope_and_keeps_to_the_filter(
        pool: Pool, http: httpx.AsyncClient, shop: Shop) -> None:
    await a_client(pool, shop, "vip@filter.example", tags=["vip"])
    await a_client(pool, shop, "plain@filter.example")
    only = await http.get("/v1/clients/export.csv", params={"tags": "vip"},
                          headers=shop.auth("owner"))
    assert [r["Email"] for r in csv.DictReader(io.StringIO(only.text))] == [
        "vip@filter.example"]
    refused = await http.get("/v1/clients/export.csv", headers=shop.auth("member"))
    assert refused.status_code == 403

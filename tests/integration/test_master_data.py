"""Master data (seed 001) on the real broker and database: a store's customer types, customer
segments and brokers created, renamed and listed; a client classified by them and listed by
them; a delete refused with the count while clients use an entry; each change logged and on
the events topic as master_data.changed."""

import uuid
from typing import Any

import httpx
import pytest

from shared.db import Pool
from shared.settings import Settings
from shared.topics import EVENTS
from tests.support.api_helpers import Shop, a_client, a_shop
from tests.support.cli_helpers import cli
from tests.support.kafka_helpers import Watcher

pytestmark = pytest.mark.usefixtures("pipeline")  # its commands service and relay


async def create(http: httpx.AsyncClient, shop: Shop, path: str, name: str) -> str:
    made = await http.post(f"/v1/{path}", headers=shop.auth("admin"), json={"name": name})
    assert made.status_code == 200, made.text
    return str(made.json()["result"]["master_data_id"])


async def test_master_data_classifies_clients_and_cannot_go_while_in_use(
        settings: Settings, http: httpx.AsyncClient, shop: Shop, pool: Pool) -> None:
    async with Watcher(settings.kafka_bootstrap_servers, EVENTS) as events:
        purchaser = await create(http, shop, "customer-types", "Purchaser")
        location = await create(http, shop, "customer-types", "Location")
        club = await create(http, shop, "customer-segments", "Club")
        broker = await create(http, shop, "brokers", "Bo Broker")
        changed = await events.take(lambda v: v.get("type") == "master_data.changed"
                                    and v.get("store_id") == str(shop.store.id), count=4)
    assert sorted((e["kind"], e["name"], e["change"]) for e in changed) == [
        ("broker", "Bo Broker", "created"), ("customer_segment", "Club", "created"),
        ("customer_type", "Location", "created"), ("customer_type", "Purchaser", "created")]

    listed = (await http.get("/v1/customer-types", headers=shop.auth("viewer"))).json()
    assert [i["name"] for i in listed["items"]] == ["Location", "Purchaser"]
    twin = await http.post("/v1/customer-types", headers=shop.auth("admin"),
                           json={"name": "PURCHASER"})
    assert twin.status_code == 409
    assert (await http.post("/v1/brokers", headers=shop.auth("member"), json={"name": "X"})
            ).status_code == 403
    renamed = await http.patch(f"/v1/customer-types/{location}", headers=shop.auth("admin"),
                               json={"name": "Store location"})
    assert renamed.json()["result"]["outcome"] == "applied"

    tag = uuid.uuid4().hex[:6]
    a = await a_client(pool, shop, f"a.{tag}@example.com")
    b = await a_client(pool, shop, f"b.{tag}@example.com")
    for client, fields in ((a, {"customer_type_id": purchaser, "customer_segment_id": club,
                                "broker_id": broker}),
                           (b, {"customer_type_id": location})):
        patched = await http.patch(f"/v1/clients/{client}", headers=shop.auth("member"),
                                   json=fields)
        assert patched.status_code == 200, patched.text
    wrong_kind = await http.patch(f"/v1/clients/{a}", headers=shop.auth("member"),
                                  json={"customer_type_id": club})
    assert wrong_kind.status_code == 422
    assert wrong_kind.json()["result"]["errors"][0]["field"] == "customer_type_id"
    theirs = await a_shop(pool)
    their_type = await create(http, theirs, "customer-types", "Purchaser")
    foreign = await http.patch(f"/v1/clients/{a}", headers=shop.auth("member"),
                               json={"customer_type_id": their_type})
    assert foreign.status_code == 422

    async def ids(**params: Any) -> list[str]:
        page = await http.get("/v1/clients", headers=shop.auth("viewer"), params=params)
        assert page.status_code == 200, page.text
        return [c["id"] for c in page.json()["clients"]]
    assert await ids(customer_type=purchaser) == [str(a)]
    assert await ids(customer_type=location) == [str(b)]
    assert await ids(customer_type=purchaser, customer_segment=club, broker=broker) == [str(a)]

    for path, entry in (("customer-types", purchaser), ("customer-segments", club),
                        ("brokers", broker)):  # every kind: refused while in use
        used = await http.get(f"/v1/{path}/{entry}/in-use", headers=shop.auth("viewer"))
        assert used.json() == {"count": 1}
        refused = await http.delete(f"/v1/{path}/{entry}", headers=shop.auth("admin"))
        assert refused.status_code == 409, path
        assert refused.json()["result"]["in_use"] == 1
    code, listed_cli, err = await cli("client", "master-data", "broker",
                                      token=shop.tokens["viewer"])
    assert code == 0, err
    assert [i["name"] for i in listed_cli["items"]] == ["Bo Broker"]
    code, count, _ = await cli("client", "master-data", "customer_segment", "--in-use", club,
                               token=shop.tokens["viewer"])
    assert count == {"count": 1}
    cleared = await http.patch(f"/v1/clients/{a}", headers=shop.auth("member"),
                               json={"customer_type_id": None})
    assert cleared.status_code == 200
    gone = await http.delete(f"/v1/customer-types/{purchaser}", headers=shop.auth("admin"))
    assert gone.json()["result"]["outcome"] == "applied"
    assert (await http.get(f"/v1/customer-types/{purchaser}/in-use",
                           headers=shop.auth("viewer"))).status_code == 404
    log = await pool.fetch("SELECT action, changes FROM master_data_log WHERE "
                           "master_data_id = $1 ORDER BY seq", uuid.UUID(purchaser))
    assert [(r["action"], r["changes"]["name"]) for r in log] == [
        ("create_master_data", [None, "Purchaser"]), ("delete_master_data", ["Purchaser", None])]
    audit = await pool.fetchval("SELECT changes FROM audit_log WHERE client_id = $1 AND "
                                "changes ? 'broker_id'", a)
    assert audit["broker_id"] == [None, broker]


async def test_a_delete_waits_for_an_assignment_in_flight_and_is_refused(
        http: httpx.AsyncClient, shop: Shop, pool: Pool) -> None:
    """The interleaving forced: an assignment holds the entry (as its foreign key does) and has
    not committed when the delete comes; the delete waits for it, then counts it and refuses."""
    import asyncio

    from tests.conftest import eventually
    entry = await create(http, shop, "brokers", "In Flight")
    client = await a_client(pool, shop, f"flight.{uuid.uuid4().hex[:6]}@example.com")
    async with pool.acquire() as conn:
        assign = conn.transaction()
        await assign.start()
        await conn.execute("UPDATE clients SET broker_id = $1 WHERE id = $2",
                           uuid.UUID(entry), client)
        delete = asyncio.create_task(http.delete(f"/v1/brokers/{entry}",
                                                 headers=shop.auth("admin")))

        async def waiting() -> bool:
            return bool(await pool.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND query LIKE '%FROM master_data WHERE id = $1%FOR UPDATE%'"))
        await eventually(waiting, within=30)
        await assign.commit()
    answer = await delete
    assert answer.status_code == 409, answer.text
    assert answer.json()["result"]["in_use"] == 1
    assert await pool.fetchval("SELECT count(*) FROM master_data WHERE id = $1",
                               uuid.UUID(entry)) == 1

"""Orders feed the client, on the real broker and database: an order for a new email creates
the client (source `checkout`); stats follow placed / paid / refunded / cancelled and a replay
changes nothing; VIP flips at exactly the thresholds; addresses are saved once; segments move
with time alone (the clock injected); what cannot be used is dead-lettered."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx
import pytest

from schemas.orders import OrderEvent
from services.orders.logic import Item, _apply_retrying
from services.orders.segments import move_segments
from shared.db import Pool
from shared.settings import Settings
from shared.stats import Rules
from shared.topics import EVENTS, ORDERS, ORDERS_DLQ
from tests.conftest import Pipeline, eventually
from tests.support.api_helpers import Shop, a_client
from tests.support.kafka_helpers import Watcher, consumed_to_end, produce

pytestmark = pytest.mark.usefixtures("pipeline")  # its orders service applies the events

T0 = datetime.now(UTC) - timedelta(days=3)


def order(shop: Shop, kind: str, order_id: str, at: datetime, **fields: Any) -> dict[str, Any]:
    return {"type": f"order.{kind}", "store_id": str(shop.store.id), "order_id": order_id,
            "occurred_at": at.isoformat(), "currency": "USD", **fields}


def placed(shop: Shop, order_id: str, email: str, total: int, at: datetime = T0,
           **fields: Any) -> dict[str, Any]:
    return order(shop, "placed", order_id, at, total_minor=total,
                 customer={"email": email, "name": "Olive Order"}, **fields)


async def send(settings: Settings, shop: Shop, events: list[dict[str, Any]]) -> None:
    await produce(settings.kafka_bootstrap_servers, ORDERS, events,
                  keys=[f"{shop.store.id}:{e['order_id']}" for e in events])


async def client_of(pool: Pool, shop: Shop, email: str) -> dict[str, Any] | None:
    row = await pool.fetchrow("SELECT * FROM clients WHERE store_id = $1 AND email_key = $2 "
                              "AND deleted_at IS NULL", shop.store.id, email.lower())
    return None if row is None else dict(row)


async def until(pool: Pool, shop: Shop, email: str, **expected: Any) -> dict[str, Any]:
    """The client once its columns are as expected."""
    found: dict[str, Any] = {}

    async def there() -> bool:
        nonlocal found
        found = await client_of(pool, shop, email) or {}
        return bool(found) and all(found.get(k) == v for k, v in expected.items())
    try:
        await eventually(there, within=30)
    except TimeoutError:
        pytest.fail(f"expected {expected}, have { {k: found.get(k) for k in expected} }")
    return found


async def test_an_order_for_a_new_email_creates_the_client_from_checkout(
        settings: Settings, shop: Shop, pool: Pool, http: httpx.AsyncClient) -> None:
    address = {"address1": "12 Main St", "city": "Springfield", "state": "IL",
               "pincode": "62701", "country": "US"}
    await send(settings, shop, [placed(shop, "A-1", "new.buyer@orders-shop.com", 12_345,
                                       shipping_address=address, billing_address=address)])
    client = await until(pool, shop, "new.buyer@orders-shop.com", total_orders=1)
    assert client["source_label"] == "checkout"
    assert (client["total_spent_minor"], client["avg_order_value_minor"]) == (12_345, 12_345)
    assert client["segment"] == "new"
    assert client["is_vip"] is False
    listed = (await http.get(f"/v1/clients/{client['id']}/orders",
                             headers=shop.auth("viewer"))).json()["orders"]
    assert [(o["order_id"], o["status"], o["total_minor"]) for o in listed] == [
        ("A-1", "placed", 12_345)]
    addresses = await pool.fetch("SELECT type, is_default, source FROM client_addresses "
                                 "WHERE client_id = $1 ORDER BY type", client["id"])
    assert [tuple(a) for a in addresses] == [("billing", True, "order"),
                                             ("shipping", True, "order")]
    timeline = (await http.get(f"/v1/clients/{client['id']}/timeline",
                               headers=shop.auth("viewer"))).json()["items"]
    assert {"order_id": "A-1", "event": "order.placed", "amount_minor": 12_345,
            "currency": "USD"} in [i["detail"] for i in timeline if i["kind"] == "order"]
    view = (await http.get(f"/v1/clients/{client['id']}", headers=shop.auth("viewer"))).json()
    assert (view["total_orders"], view["segment"]) == (1, "new")


async def test_stats_follow_each_kind_of_event_and_a_replay_changes_nothing(
        settings: Settings, pipeline: Pipeline, shop: Shop, pool: Pool) -> None:
    email = "stats@orders-shop.com"
    events = [placed(shop, "S-1", email, 10_000), placed(shop, "S-2", email, 5_000,
                                                         T0 + timedelta(hours=1)),
              order(shop, "paid", "S-1", T0 + timedelta(hours=2)),
              order(shop, "refunded", "S-1", T0 + timedelta(hours=3), refunded_minor=2_500),
              order(shop, "cancelled", "S-2", T0 + timedelta(hours=4))]
    async with Watcher(settings.kafka_bootstrap_servers, EVENTS) as watcher:
        await send(settings, shop, events)
        client = await until(pool, shop, email, total_orders=1, total_spent_minor=7_500)
        updates = await watcher.take(lambda v: v["client"]["id"] == str(client["id"])
                                     and v["type"] == "client.updated"
                                     and v["client"]["total_spent_minor"] == 7_500)
    assert "total_spent_minor" in updates[0]["changed"]
    assert client["first_order_at"] == client["last_order_at"] == T0
    version = client["version"]
    entries = await pool.fetchval("SELECT count(*) FROM audit_log WHERE client_id = $1",
                                  client["id"])

    await send(settings, shop, [*events, events[0]])  # the topic replayed, regrouped
    await consumed_everything(settings, pipeline)
    after = await client_of(pool, shop, email)
    assert after is not None
    assert (after["version"], after["total_orders"], after["total_spent_minor"]) == (
        version, 1, 7_500)
    assert await pool.fetchval("SELECT count(*) FROM audit_log WHERE client_id = $1",
                               client["id"]) == entries
    status = await pool.fetch("SELECT order_id, paid_at IS NOT NULL AS paid, refunded_minor, "
                              "cancelled_at IS NOT NULL AS cancelled FROM orders "
                              "WHERE client_id = $1 ORDER BY order_id", client["id"])
    assert [tuple(r) for r in status] == [("S-1", True, 2_500, False), ("S-2", False, 0, True)]


async def consumed_everything(settings: Settings, pipeline: Pipeline) -> None:
    """The orders consumer has committed past everything on its topic."""
    await consumed_to_end(settings.kafka_bootstrap_servers,
                          pipeline.settings.group_prefix + "orders", ORDERS, within=20)


async def test_vip_flips_at_exactly_ten_orders_and_at_the_spend_threshold(
        settings: Settings, shop: Shop, pool: Pool) -> None:
    many = "many@orders-shop.com"
    await send(settings, shop, [placed(shop, f"M-{n}", many, 100, T0 + timedelta(minutes=n))
                                for n in range(9)])
    client = await until(pool, shop, many, total_orders=9)
    assert client["is_vip"] is False
    assert client["segment"] == "loyal"
    await send(settings, shop, [placed(shop, "M-9", many, 100, T0 + timedelta(minutes=9))])
    client = await until(pool, shop, many, total_orders=10)
    assert client["is_vip"] is True
    assert client["segment"] == "vip"

    big = "big@orders-shop.com"
    await send(settings, shop, [placed(shop, "B-1", big, 4_999_999)])  # 49,999.99 USD
    assert (await until(pool, shop, big, total_orders=1))["is_vip"] is False
    await send(settings, shop, [placed(shop, "B-2", big, 1, T0 + timedelta(minutes=1))])
    assert (await until(pool, shop, big, total_orders=2))["is_vip"] is True  # 50,000.00
    await send(settings, shop, [order(shop, "refunded", "B-2", T0 + timedelta(minutes=2),
                                      refunded_minor=1)])
    assert (await until(pool, shop, big, total_spent_minor=4_999_999))["is_vip"] is False


async def test_an_equal_address_is_saved_once_and_the_first_of_a_type_is_the_default(
        settings: Settings, shop: Shop, pool: Pool) -> None:
    email = "addresses@orders-shop.com"
    home = {"address1": "12, Main St.", "city": "Springfield", "pincode": "62701"}
    same = {"address1": "12 main st", "city": "SPRINGFIELD", "pincode": "62701 "}
    work = {"address1": "1 Market Plaza", "city": "San Francisco"}
    await send(settings, shop, [
        placed(shop, "D-1", email, 100, shipping_address=home),
        placed(shop, "D-2", email, 100, T0 + timedelta(minutes=1), shipping_address=same),
        placed(shop, "D-3", email, 100, T0 + timedelta(minutes=2), shipping_address=work)])
    client = await until(pool, shop, email, total_orders=3)
    rows = await pool.fetch("SELECT address1, is_default FROM client_addresses "
                            "WHERE client_id = $1 AND type = 'shipping' ORDER BY created_at, "
                            "address1", client["id"])
    assert sorted((r["address1"], r["is_default"]) for r in rows) == [
        ("1 Market Plaza", False), ("12, Main St.", True)]


async def test_segments_move_with_time_alone(settings: Settings, shop: Shop,
                                             pool: Pool) -> None:
    once, loyal = "once@orders-shop.com", "loyal@orders-shop.com"
    await send(settings, shop, [placed(shop, "N-1", once, 500)] + [
        placed(shop, f"L-{n}", loyal, 500, T0 + timedelta(minutes=n)) for n in range(5)])
    first = await until(pool, shop, once, total_orders=1, segment="new")
    regular = await until(pool, shop, loyal, total_orders=5, segment="loyal")
    rules = Rules.of(settings)

    assert await move_segments(pool, rules, datetime.now(UTC)) >= 0  # nothing of ours moves
    assert (await client_of(pool, shop, once) or {})["segment"] == "new"
    await move_segments(pool, rules, T0 + timedelta(days=31))
    assert (await client_of(pool, shop, once) or {})["segment"] is None
    assert (await client_of(pool, shop, loyal) or {})["segment"] == "loyal"
    await move_segments(pool, rules, T0 + timedelta(days=91))
    moved = await client_of(pool, shop, loyal)
    assert moved is not None
    assert moved["segment"] == "at_risk"
    assert moved["version"] == regular["version"] + 1
    entry = await pool.fetchrow("SELECT action, changes FROM audit_log WHERE client_id = $1 "
                                "ORDER BY seq DESC LIMIT 1", regular["id"])
    assert entry is not None
    assert (entry["action"], entry["changes"]) == ("segment", {"segment": ["loyal",
                                                                           "at_risk"]})
    assert (await client_of(pool, shop, once) or {})["segment"] == "at_risk"
    assert first["id"] != regular["id"]


async def test_what_cannot_be_used_is_dead_lettered_and_its_neighbour_is_applied(
        settings: Settings, shop: Shop, pool: Pool) -> None:
    unknown = order(shop, "paid", f"nope-{uuid.uuid4().hex[:6]}", T0)
    no_customer = order(shop, "placed", "X-1", T0, total_minor=5)
    bad_currency = placed(shop, "X-2", "x2@orders-shop.com", 5, currency="dollars")
    good = placed(shop, "X-3", "good@orders-shop.com", 5)
    async with Watcher(settings.kafka_bootstrap_servers, ORDERS_DLQ) as dlq:
        await produce(settings.kafka_bootstrap_servers, ORDERS,
                      [unknown, no_customer, bad_currency, b"{not json", good],
                      keys=[str(shop.store.id)] * 5)
        letters = await dlq.take(lambda v: v["source"]["topic"] == ORDERS, count=4)
    reasons = sorted((x["reason"], x["errors"][0]["field"]) for x in letters)
    assert reasons == [("invalid", "currency"), ("invalid", "order_id"), ("invalid", "record"),
                       ("malformed", "payload")]
    await until(pool, shop, "good@orders-shop.com", total_orders=1)



async def test_segment_counts_and_the_segment_vip_and_consent_filters(
        settings: Settings, shop: Shop, pool: Pool, http: httpx.AsyncClient) -> None:
    plan = {"seg-new@orders-shop.com": 1, "seg-returning@orders-shop.com": 2,
            "seg-loyal@orders-shop.com": 5, "seg-vip@orders-shop.com": 10}
    await send(settings, shop, [
        placed(shop, f"{email}-{n}", email, 100, T0 + timedelta(minutes=n),
               accepts_marketing=email.startswith("seg-vip") or None)
        for email, count in plan.items() for n in range(count)])
    for email, count in plan.items():
        await until(pool, shop, email, total_orders=count)
    no_orders = await http.post("/integrations/v1/clients", headers=shop.auth("integration"),
                                json={"email": "seg-none@orders-shop.com", "name": "None"})
    assert no_orders.status_code == 201

    counts = (await http.get("/v1/clients/segments", headers=shop.auth("viewer"))).json()
    assert {k: v["count"] for k, v in counts.items()} == {
        "new": 1, "returning": 1, "loyal": 1, "vip": 1, "at_risk": 0, "total": 5}
    assert counts["at_risk"]["label"] == "At risk"

    async def emails(path: str, **params: Any) -> list[str]:
        page = await http.get(path, params=params, headers=shop.auth("viewer"))
        assert page.status_code == 200, page.text
        return sorted(c["email"] for c in page.json()["clients"])
    assert await emails("/v1/clients", segment="loyal") == ["seg-loyal@orders-shop.com"]
    assert await emails("/v1/clients/vip") == ["seg-vip@orders-shop.com"]
    assert await emails("/v1/clients", accepts_marketing="true") == ["seg-vip@orders-shop.com"]
    assert len(await emails("/v1/clients", accepts_marketing="false")) == 4
    assert (await http.get("/v1/clients", params={"segment": "gold"},
                           headers=shop.auth("viewer"))).status_code == 422


async def test_consent_changes_are_kept_with_when_and_from_where(
        settings: Settings, shop: Shop, pool: Pool, http: httpx.AsyncClient) -> None:
    made = await http.post("/integrations/v1/clients", headers=shop.auth("integration"),
                           json={"email": "consent@orders-shop.com", "name": "Consent",
                                 "accepts_marketing": True})
    client = made.json()["client"]
    assert client["accepts_marketing"] is True
    assert client["marketing_consent_source"] == "WooCommerce"
    assert client["marketing_consent_at"] is not None
    withdrawn = await http.patch(f"/v1/clients/{client['id']}", headers=shop.auth("member"),
                                 json={"accepts_marketing": False})
    assert withdrawn.status_code == 200, withdrawn.text
    after = withdrawn.json()["client"]
    assert (after["accepts_marketing"], after["marketing_consent_source"]) == (
        False, "member: Member")
    assert after["marketing_consent_at"] > client["marketing_consent_at"]
    cleared = await http.patch(f"/v1/clients/{client['id']}", headers=shop.auth("member"),
                               json={"accepts_marketing": None})
    assert cleared.status_code == 422
    await send(settings, shop, [placed(shop, "C-1", "consent@orders-shop.com", 100,
                                       accepts_marketing=True)])
    again = await until(pool, shop, "consent@orders-shop.com", accepts_marketing=True)
    assert again["marketing_consent_source"] == "checkout"
    entries = (await http.get(f"/v1/clients/{client['id']}/audit",
                              headers=shop.auth("viewer"))).json()["entries"]
    consent = [(e["actor"]["name"], e["changes"]["accepts_marketing"]) for e in entries
               if "accepts_marketing" in e["changes"]]
    assert consent == [("checkout", [False, True]), ("Member", [True, False]),
                       ("WooCommerce", [None, True])]


async def test_an_event_of_a_client_merged_while_its_batch_runs_goes_to_the_primary(
        pool: Pool, shop: Shop) -> None:
    """A merge holds both clients (FOR UPDATE) and has moved the secondary's orders when a
    refund of the secondary's order is applied: the batch records the event, waits for the
    clients' lock, and once the merge commits runs again, so the refund and the stats are the
    primary's."""
    secondary = await a_client(pool, shop, f"second.{uuid.uuid4().hex[:6]}@merge-race.example")
    primary = await a_client(pool, shop, f"first.{uuid.uuid4().hex[:6]}@merge-race.example")
    order_id, rules = f"o-{uuid.uuid4().hex[:8]}", Rules()

    def item(event: dict[str, Any]) -> Item:
        return Item(record=cast(Any, None), body=event,
                    event=OrderEvent.model_validate(event), client_id=secondary)
    assert await _apply_retrying(pool, [item(placed(shop, order_id, "x@x.example", 5000))],
                                 rules) == 1
    async with pool.acquire() as merge:
        tx = merge.transaction()
        await tx.start()
        await merge.execute("SELECT 1 FROM clients WHERE id = ANY ($1::uuid[]) ORDER BY id "
                            "FOR UPDATE", [secondary, primary])
        await merge.execute("UPDATE orders SET client_id = $2 WHERE client_id = $1",
                            secondary, primary)
        await merge.execute("UPDATE order_events SET client_id = $2 WHERE client_id = $1",
                            secondary, primary)
        await merge.execute("UPDATE clients SET merged_into = $2, deleted_at = now() "
                            "WHERE id = $1", secondary, primary)
        racer = asyncio.create_task(_apply_retrying(pool, [item(order(
            shop, "refunded", order_id, T0 + timedelta(hours=1), refunded_minor=1000))], rules))

        async def waiting() -> bool:
            return bool(await pool.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND query LIKE '%merged_into FROM clients WHERE id = ANY%FOR NO KEY UPDATE'"))
        await eventually(waiting)
        assert not racer.done()
        await tx.commit()
    assert await racer == 1
    owners = await pool.fetch("SELECT type, client_id FROM order_events WHERE store_id = $1 "
                              "AND order_id = $2 ORDER BY occurred_at", shop.store.id, order_id)
    assert [(r["type"], r["client_id"]) for r in owners] == [("order.placed", primary),
                                                            ("order.refunded", primary)]
    stats = await pool.fetchrow("SELECT total_orders, total_spent_minor FROM clients "
                                "WHERE id = $1", primary)
    assert stats is not None
    assert (stats["total_orders"], stats["total_spent_minor"]) == (1, 4000)

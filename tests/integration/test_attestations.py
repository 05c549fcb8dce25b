"""RUO attestations on the real broker and database: the store's settings, captures from the
topic (by client id, or by email / external id through the resolver) and through /v1, their
reads and validity window, append-only in the database, and what cannot be recorded dead-lettered
with its reason while its neighbours are."""

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest

from services.edge import privacy
from shared.db import Pool
from shared.settings import Settings
from shared.topics import ATTESTATIONS, ATTESTATIONS_DLQ
from tests.conftest import eventually
from tests.support.api_helpers import Shop, a_client, a_shop
from tests.support.kafka_helpers import Watcher, produce

pytestmark = pytest.mark.usefixtures("pipeline")  # its attestations service records captures

RUO = {"text": "For research use only. Not for human consumption.", "version": 3,
       "validity_days": 180}


async def set_ruo(http: httpx.AsyncClient, shop: Shop, **changes: Any) -> httpx.Response:
    return await http.put("/v1/compliance/ruo", headers=shop.auth("admin"),
                          json={**RUO, **changes})


def capture(shop: Shop, **fields: Any) -> dict[str, Any]:
    return {"capture_id": f"chk-{uuid.uuid4().hex}", "store_id": str(shop.store.id),
            "text": RUO["text"], "version": 3, "captured_at": datetime.now(UTC).isoformat(),
            "ip": "198.51.100.4", "user_agent": "Checkout/2.1", **fields}


async def attestations_of(pool: Pool, client_id: UUID) -> list[dict[str, Any]]:
    return [dict(r) for r in await pool.fetch(
        "SELECT * FROM attestations WHERE client_id = $1 ORDER BY captured_at", client_id)]


async def test_the_stores_ruo_settings_are_read_by_all_and_set_by_admins(
        http: httpx.AsyncClient, shop: Shop) -> None:
    assert (await http.get("/v1/compliance/ruo", headers=shop.auth("viewer"))
            ).status_code == 404
    refused = await http.put("/v1/compliance/ruo", headers=shop.auth("member"), json=RUO)
    assert (refused.status_code, refused.json()["scope"]) == (403, "settings:write")
    assert (await set_ruo(http, shop)).status_code == 200
    assert (await set_ruo(http, shop, version=4, validity_days=0)).status_code == 422
    got = (await http.get("/v1/compliance/ruo", headers=shop.auth("public"))).json()
    assert {k: got[k] for k in RUO} == RUO


async def test_captures_from_checkout_find_their_client_by_id_email_or_external_id(
        settings: Settings, http: httpx.AsyncClient, shop: Shop, pool: Pool) -> None:
    known = await a_client(pool, shop, "known@checkout-shop.com", external_id="shop-42")
    by_id = capture(shop, client_id=str(known))
    by_email = capture(shop, customer={"email": "KNOWN@checkout-shop.com", "name": "Known"})
    by_external = capture(shop, integration_key_id=str(shop.key.id),
                          customer={"external_id": "shop-42", "email": "other@checkout-shop.com",
                                    "name": "Known"})
    new = capture(shop, customer={"email": "first.time@checkout-shop.com", "name": "First Time"})
    await produce(settings.kafka_bootstrap_servers, ATTESTATIONS,
                  [by_id, by_email, by_external, new, by_id])  # by_id twice: recorded once

    async def recorded() -> bool:
        n = await pool.fetchval("SELECT count(*) FROM attestations WHERE store_id = $1",
                                shop.store.id)
        return bool(n == 4)
    await eventually(recorded)
    rows = await attestations_of(pool, known)
    assert sorted(r["capture_id"] for r in rows) == sorted(
        c["capture_id"] for c in (by_id, by_email, by_external))
    assert {(r["source"], r["ip"], r["user_agent"]) for r in rows} == {
        ("checkout", "198.51.100.4", "Checkout/2.1")}
    created = await pool.fetchrow("SELECT id, source_label FROM clients WHERE store_id = $1 "
                                  "AND email_key = 'first.time@checkout-shop.com'", shop.store.id)
    assert created is not None
    assert created["source_label"] == "checkout"
    assert len(await attestations_of(pool, created["id"])) == 1


async def test_what_cannot_be_recorded_is_dead_lettered_and_its_neighbour_is_not(
        settings: Settings, shop: Shop, pool: Pool) -> None:
    client = await a_client(pool, shop, "neighbour@checkout-shop.com")
    elsewhere = await a_shop(pool)
    theirs = await a_client(pool, elsewhere, "theirs@checkout-shop.com")
    nobody, foreign, wrong_type, forged = (
        capture(shop), capture(shop, client_id=str(theirs)),
        capture(shop, client_id=str(client), version="three"),
        capture(shop, customer={"email": "a@b-shop.com", "name": "N"},
                integration_key="pck_int_secret"))
    good = capture(shop, client_id=str(client))
    records = [b"\xff\xfe not json",
               *(json.dumps(c).encode() for c in (nobody, foreign, wrong_type, forged, good))]
    async with Watcher(settings.kafka_bootstrap_servers, ATTESTATIONS_DLQ) as dlq:
        await produce(settings.kafka_bootstrap_servers, ATTESTATIONS, records,
                      keys=[str(shop.store.id)] * len(records))
        letters = {x["request_id"]: x for x in await dlq.take(
            lambda v: v["request_id"] in {c["capture_id"] for c in (nobody, foreign,
                                                                    wrong_type, forged)}
            or (v["reason"] == "malformed" and v["payload"] == "//4gbm90IGpzb24="), count=5)}
    malformed = next(x for x in letters.values() if x["reason"] == "malformed")
    assert malformed["errors"][0]["message"] == "not UTF-8 text"
    assert letters[nobody["capture_id"]]["reason"] == "invalid"
    assert letters[foreign["capture_id"]]["errors"] == [
        {"field": "client_id", "message": "no such client in this store"}]
    assert letters[wrong_type["capture_id"]]["errors"][0]["field"] == "version"
    assert letters[forged["capture_id"]]["errors"][0]["field"] == "integration_key"
    assert "pck_int_secret" not in json.dumps(letters)
    await eventually(lambda: _count(pool, client, 1))
    assert await attestations_of(pool, theirs) == []


async def _count(pool: Pool, client_id: UUID, n: int) -> bool:
    return len(await attestations_of(pool, client_id)) == n


async def test_api_captures_list_newest_first_and_validity_follows_the_window(
        http: httpx.AsyncClient, shop: Shop, pool: Pool) -> None:
    client = await a_client(pool, shop, "window@checkout-shop.com")
    url = f"/v1/clients/{client}/attestations"
    no_settings = await http.post(url, headers=shop.auth("member"), json={})
    assert no_settings.status_code == 422
    await set_ruo(http, shop)
    assert (await http.post(url, headers=shop.auth("viewer"), json={})).status_code == 403
    old = datetime.now(UTC) - timedelta(days=181)
    first = await http.post(url, headers=shop.auth("member"),
                            json={"captured_at": old.isoformat(), "ip": "192.0.2.1"})
    assert first.status_code == 201, first.text
    assert (first.json()["text"], first.json()["version"], first.json()["actor_name"]) == (
        RUO["text"], 3, "Member")
    stale = (await http.get(f"{url}/valid", headers=shop.auth("viewer"))).json()
    assert stale["valid"] is False
    assert stale["expires_at"] == (old + timedelta(days=180)).isoformat().replace("+00:00", "Z")

    fresh = await http.post(url, headers=shop.auth("member"), json={"capture_id": "desk-1"})
    again = await http.post(url, headers=shop.auth("member"), json={"capture_id": "desk-1"})
    assert fresh.json()["id"] == again.json()["id"]  # the capture id is the idempotency key
    valid = (await http.get(f"{url}/valid", headers=shop.auth("public"))).json()
    assert valid["valid"] is True
    assert valid["latest"]["id"] == fresh.json()["id"]
    listed = (await http.get(url, headers=shop.auth("viewer"))).json()["attestations"]
    assert [a["id"] for a in listed] == [fresh.json()["id"], first.json()["id"]]

    # once the window has passed (the clock injected) the fresh capture is no longer valid
    later = datetime.now(UTC) + timedelta(days=180, minutes=1)
    passed = await privacy.validity(pool, shop.store.id, client, later)
    assert passed is not None
    assert passed.valid is False
    assert passed.latest is not None
    assert str(passed.latest.id) == fresh.json()["id"]
    timeline = (await http.get(f"/v1/clients/{client}/timeline",
                               headers=shop.auth("viewer"))).json()["items"]
    assert [i["kind"] for i in timeline].count("attestation") == 2
    other = (await http.get(f"/v1/clients/{uuid.uuid4()}/attestations/valid",
                            headers=shop.auth("viewer")))
    assert other.status_code == 404


async def test_attestations_cannot_be_changed_or_deleted_through_sql(
        http: httpx.AsyncClient, shop: Shop, pool: Pool) -> None:
    client = await a_client(pool, shop, "forever@checkout-shop.com")
    await set_ruo(http, shop)
    made = await http.post(f"/v1/clients/{client}/attestations", headers=shop.auth("member"),
                           json={"ip": "192.0.2.9"})
    attestation = UUID(made.json()["id"])
    for statement in ("UPDATE attestations SET version = 9 WHERE id = $1",
                      "UPDATE attestations SET ip = NULL WHERE id = $1",
                      "DELETE FROM attestations WHERE id = $1"):
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await pool.execute(statement, attestation)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await pool.execute("TRUNCATE attestations")
    assert (await pool.fetchval("SELECT version FROM attestations WHERE id = $1",
                                attestation)) == 3


async def test_hostile_captures_end_as_dead_letters_and_stop_nothing(
        settings: Settings, shop: Shop, pool: Pool) -> None:
    client = await a_client(pool, shop, "hostile@checkout-shop.com")
    base = capture(shop, client_id=str(client))
    hostile = [
        b"[" * 100_000 + b"]" * 100_000,                                      # deeply nested
        json.dumps({**base, "text": "RUO\u0000"}).encode(),                     # NUL
        json.dumps({**base, "user_agent": "\ud800"}).encode(),                 # lone surrogate
        json.dumps({**base, "text": "x" * 300_000}).encode(),                   # huge
        json.dumps({**base, "version": {"a": [1, 2]}, "ip": 7}).encode(),        # wrong types
        b"null", b"",
    ]
    good = capture(shop, client_id=str(client))
    async with Watcher(settings.kafka_bootstrap_servers, ATTESTATIONS_DLQ) as dlq:
        await produce(settings.kafka_bootstrap_servers, ATTESTATIONS, [*hostile, good],
                      keys=[str(client)] * (len(hostile) + 1))
        letters = await dlq.take(lambda v: v["source"]["topic"] == ATTESTATIONS,
                                 count=len(hostile), within=60)
    assert {x["reason"] for x in letters} <= {"malformed", "invalid"}
    assert all(x["errors"] for x in letters)
    await eventually(lambda: _count(pool, client, 1))
    (recorded,) = await attestations_of(pool, client)
    assert recorded["capture_id"] == good["capture_id"]

"""The addresses API (seed 004) on the real broker and database: billing and shipping, one
default per type (the database enforces it; a new default unsets the old in the same
transaction), each change a command with its version and audit entry."""

import asyncpg
import httpx
import pytest

from shared.db import Pool
from tests.support.api_helpers import Shop, a_client

HOME = {"type": "shipping", "address1": "12 Main St", "city": "Springfield", "pincode": "62701"}
WORK = {"type": "shipping", "address1": "1 Market Plaza", "city": "San Francisco"}


async def test_addresses_keep_one_default_per_type_and_each_change_is_audited(
        http: httpx.AsyncClient, shop: Shop, pool: Pool) -> None:
    client = await a_client(pool, shop, "addresses@api-shop.com")
    url = f"/v1/clients/{client}/addresses"
    member = shop.auth("member")
    home = await http.post(url, headers=member, json=HOME)
    assert home.status_code == 200, home.text
    home_id = home.json()["result"]["address_id"]
    work = await http.post(url, headers=member, json={**WORK, "is_default": True})
    work_id = work.json()["result"]["address_id"]
    billing = await http.post(url, headers=member, json={**HOME, "type": "billing"})
    assert billing.json()["result"]["outcome"] == "applied"
    listed = (await http.get(url, headers=shop.auth("viewer"))).json()["addresses"]
    assert [(a["type"], a["id"], a["is_default"]) for a in listed] == [
        ("billing", billing.json()["result"]["address_id"], True),
        ("shipping", work_id, True), ("shipping", home_id, False)]

    same = await http.post(url, headers=member, json={**HOME, "address1": "12, main st."})
    assert (same.json()["result"]["outcome"], same.json()["result"]["address_id"]) == (
        "unchanged", home_id)
    back = await http.post(f"{url}/{home_id}/default", headers=member)
    assert back.json()["result"]["outcome"] == "applied"
    defaults = await pool.fetch("SELECT id FROM client_addresses WHERE client_id = $1 AND "
                                "type = 'shipping' AND is_default", client)
    assert [str(r["id"]) for r in defaults] == [home_id]
    with pytest.raises(asyncpg.UniqueViolationError):
        await pool.execute("UPDATE client_addresses SET is_default = true WHERE id = $1",
                           work_id)

    moved = await http.patch(f"{url}/{work_id}", headers=member, json={"city": "Oakland"})
    assert moved.status_code == 200, moved.text
    clash = await http.patch(f"{url}/{work_id}", headers=member,
                             json={"address1": "12 Main St", "city": "Springfield",
                                   "pincode": "62701"})
    assert clash.status_code == 409
    cleared = await http.patch(f"{url}/{work_id}", headers=member, json={"city": None})
    assert cleared.status_code == 422
    gone = await http.delete(f"{url}/{work_id}", headers=member)
    assert gone.json()["result"]["outcome"] == "applied"
    again = await http.delete(f"{url}/{work_id}", headers=member)
    assert again.status_code == 404

    entries = (await http.get(f"/v1/clients/{client}/audit", params={"limit": 100},
                              headers=shop.auth("viewer"))).json()["entries"]
    actions = [e["action"] for e in entries if e["action"].endswith("_address")]
    assert actions == ["remove_address", "update_address", "default_address", "add_address",
                       "add_address", "add_address"]
    city = next(e for e in entries if e["action"] == "update_address")["changes"]["address"]
    assert (city[0]["city"], city[1]["city"]) == ("San Francisco", "Oakland")
    assert (await http.get(url, headers=shop.auth("public"))).status_code == 200
    assert (await http.post(url, headers=shop.auth("viewer"), json=HOME)).status_code == 403


async def test_another_stores_client_or_address_is_not_found(
        http: httpx.AsyncClient, shop: Shop, pool: Pool) -> None:
    from tests.support.api_helpers import a_shop
    theirs = await a_shop(pool)
    their_client = await a_client(pool, theirs, "theirs@api-shop.com")
    made = await http.post(f"/v1/clients/{their_client}/addresses",
                           headers=theirs.auth("member"), json=HOME)
    address_id = made.json()["result"]["address_id"]
    mine = await a_client(pool, shop, "mine@api-shop.com")
    for call in (http.get(f"/v1/clients/{their_client}/addresses", headers=shop.auth("viewer")),
                 http.post(f"/v1/clients/{their_client}/addresses", headers=shop.auth("member"),
                           json=HOME),
                 http.delete(f"/v1/clients/{mine}/addresses/{address_id}",
                             headers=shop.auth("member"))):
        assert (await call).status_code == 404


async def addresses_of(pool: Pool, client_id: object) -> list[tuple[str, str, bool, str]]:
    rows = await pool.fetch("SELECT type, address1, is_default, source FROM client_addresses "
                            "WHERE client_id = $1 ORDER BY type, is_default DESC, address1",
                            client_id)
    return [(r["type"], r["address1"], r["is_default"], r["source"]) for r in rows]


async def test_a_client_created_with_addresses_keeps_them_once(
        http: httpx.AsyncClient, shop: Shop, pool: Pool) -> None:
    body = {"email": "with-addresses@api-shop.com", "name": "Ada Dress",
            "addresses": [HOME, WORK, {**HOME, "type": "billing"}]}
    made = await http.post("/integrations/v1/clients", headers=shop.auth("integration"),
                           json=body)
    assert made.status_code == 201, made.text
    client = made.json()["client"]["id"]
    assert await addresses_of(pool, client) == [
        ("billing", "12 Main St", True, "WooCommerce"),
        ("shipping", "12 Main St", True, "WooCommerce"),
        ("shipping", "1 Market Plaza", False, "WooCommerce")]
    # the same person again, one address equal to one there and a new one: only that is added
    again = await http.post("/integrations/v1/clients", headers=shop.auth("integration"), json={
        **body, "addresses": [{**HOME, "address1": "12 MAIN ST."},
                              {"type": "shipping", "address1": "5 Dock Rd", "city": "Portland"}]})
    assert again.status_code == 200, again.text
    assert [a[1] for a in await addresses_of(pool, client)] == [
        "12 Main St", "12 Main St", "1 Market Plaza", "5 Dock Rd"]
    too_many = await http.post("/integrations/v1/clients", headers=shop.auth("integration"),
                               json={**body, "addresses": [HOME] * 11})
    assert too_many.status_code == 422
    assert too_many.json()["errors"][0]["field"] == "addresses"
    no_city = await http.post("/integrations/v1/clients", headers=shop.auth("integration"),
                              json={**body, "addresses": [{"type": "shipping",
                                                           "address1": "1 Nowhere"}]})
    assert no_city.status_code == 422


async def test_patch_adds_addresses_and_sets_consent_in_one_audited_change(
        http: httpx.AsyncClient, shop: Shop, pool: Pool) -> None:
    client = await a_client(pool, shop, "patch-addresses@api-shop.com")
    url = f"/v1/clients/{client}"
    patched = await http.patch(url, headers=shop.auth("member"), json={
        "accepts_marketing": True, "addresses": [WORK, {**HOME, "type": "billing"}]})
    assert patched.status_code == 200, patched.text
    assert patched.json()["result"]["outcome"] == "applied"
    assert patched.json()["client"]["accepts_marketing"] is True
    assert await addresses_of(pool, client) == [
        ("billing", "12 Main St", True, "member: Member"),
        ("shipping", "1 Market Plaza", True, "member: Member")]
    entry = await pool.fetchrow("SELECT client_version, changes FROM audit_log "
                                "WHERE client_id = $1 AND action = 'update'", client)
    assert entry is not None
    assert set(entry["changes"]) == {"accepts_marketing", "addresses"}
    assert sorted(a["address1"] for a in entry["changes"]["addresses"][1]) == [
        "1 Market Plaza", "12 Main St"]
    same = await http.patch(url, headers=shop.auth("member"), json={"addresses": [WORK]})
    assert same.json()["result"]["outcome"] == "unchanged"
    assert same.json()["result"]["version"] == entry["client_version"]

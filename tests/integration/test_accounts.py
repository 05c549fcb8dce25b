"""B2B accounts (seed 003) on the real broker and database: contacts under a client account
(one per email, a role, the account's status on every read) and per-product price overrides,
each change a command with its audit entry (PriceOverrideSet / PriceOverrideRemoved)."""

import uuid

import httpx
import pytest

from shared.db import Pool
from tests.support.api_helpers import Shop, a_client, a_shop

pytestmark = pytest.mark.usefixtures("pipeline")  # its commands service applies the changes


async def test_contacts_are_one_per_email_with_a_role_and_the_accounts_status(
        http: httpx.AsyncClient, shop: Shop, pool: Pool) -> None:
    account = await a_client(pool, shop, f"acme.{uuid.uuid4().hex[:6]}@example.com",
                             type="wholesale")
    url = f"/v1/clients/{account}/contacts"
    member = shop.auth("member")
    made = await http.post(url, headers=member, json={"email": "Buyer@Acme.example",
                                                      "name": "Bea Buyer"})
    assert made.status_code == 200, made.text
    contact_id = made.json()["result"]["contact_id"]
    again = await http.post(url, headers=member, json={"email": " buyer@acme.EXAMPLE",
                                                       "role": "ADMIN"})
    assert (again.json()["result"]["outcome"], again.json()["result"]["contact_id"]) == (
        "unchanged", contact_id)
    assert (await http.post(url, headers=member, json={"email": "not-an-email"})
            ).status_code == 422
    assert (await http.post(url, headers=member, json={"email": "v@acme.example",
                                                       "role": "OWNER"})).status_code == 422

    role = await http.patch(f"{url}/{contact_id}", headers=member, json={"role": "ADMIN"})
    assert role.json()["result"]["outcome"] == "applied"
    same = await http.patch(f"{url}/{contact_id}", headers=member, json={"role": "ADMIN"})
    assert same.json()["result"]["outcome"] == "unchanged"
    viewer = await http.post(url, headers=member, json={"email": "v@acme.example",
                                                        "role": "VIEWER"})
    assert viewer.status_code == 200

    blocked = await http.patch(f"/v1/clients/{account}", headers=member,
                               json={"status": "BLOCKED"})
    assert blocked.status_code == 200
    listed = (await http.get(url, headers=shop.auth("viewer"))).json()["contacts"]
    assert [(c["email"], c["role"], c["account_status"]) for c in listed] == [
        ("Buyer@Acme.example", "ADMIN", "BLOCKED"), ("v@acme.example", "VIEWER", "BLOCKED")]

    gone = await http.delete(f"{url}/{contact_id}", headers=member)
    assert gone.json()["result"]["outcome"] == "applied"
    assert (await http.delete(f"{url}/{contact_id}", headers=member)).status_code == 404
    entries = await pool.fetch("SELECT action, changes FROM audit_log WHERE client_id = $1 "
                               "AND changes ? 'contact' ORDER BY seq", account)
    assert [e["action"] for e in entries] == [
        "invite_contact", "set_contact_role", "invite_contact", "remove_contact"]
    assert entries[1]["changes"]["contact"][0]["role"] == "BUYER"
    assert entries[1]["changes"]["contact"][1]["role"] == "ADMIN"
    assert (await http.post(url, headers=shop.auth("viewer"), json={"email": "x@y.example"})
            ).status_code == 403
    theirs = await a_shop(pool)
    assert (await http.get(url, headers=theirs.auth("viewer"))).status_code == 404


async def test_price_overrides_are_set_changed_and_removed_with_their_audit_entries(
        http: httpx.AsyncClient, shop: Shop, pool: Pool) -> None:
    account = await a_client(pool, shop, f"club.{uuid.uuid4().hex[:6]}@example.com")
    url = f"/v1/clients/{account}/price-overrides"
    member = shop.auth("member")
    set_ = await http.put(f"{url}/SKU-1", headers=member,
                          json={"price_minor": 1250, "currency": "usd"})
    assert set_.status_code == 200, set_.text
    same = await http.put(f"{url}/SKU-1", headers=member,
                          json={"price_minor": 1250, "currency": "USD"})
    assert same.json()["result"]["outcome"] == "unchanged"
    lower = await http.put(f"{url}/SKU-1", headers=member,
                           json={"price_minor": 1100, "currency": "USD"})
    assert lower.json()["result"]["outcome"] == "applied"
    await http.put(f"{url}/SKU-2", headers=member, json={"price_minor": 0, "currency": "USD"})
    for bad in ({"price_minor": -1, "currency": "USD"}, {"price_minor": 5, "currency": "US"},
                {"price_minor": 1.5, "currency": "USD"}):
        assert (await http.put(f"{url}/SKU-3", headers=member, json=bad)).status_code == 422
    listed = (await http.get(url, headers=shop.auth("public"))).json()["price_overrides"]
    assert [(p["product_id"], p["price_minor"], p["currency"]) for p in listed] == [
        ("SKU-1", 1100, "USD"), ("SKU-2", 0, "USD")]

    removed = await http.delete(f"{url}/SKU-1", headers=member)
    assert removed.json()["result"]["outcome"] == "applied"
    assert (await http.delete(f"{url}/SKU-1", headers=member)).status_code == 404
    entries = await pool.fetch("SELECT action, changes FROM audit_log WHERE client_id = $1 "
                               "AND action LIKE 'PriceOverride%' ORDER BY seq", account)
    assert [e["action"] for e in entries] == [
        "PriceOverrideSet", "PriceOverrideSet", "PriceOverrideSet", "PriceOverrideRemoved"]
    assert entries[1]["changes"]["price_override"] == [
        {"product_id": "SKU-1", "price_minor": 1250, "currency": "USD"},
        {"product_id": "SKU-1", "price_minor": 1100, "currency": "USD"}]
    assert entries[3]["changes"]["price_override"][1] is None

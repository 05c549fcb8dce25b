"""Profile fields (seeds 000, 002, 003) on the real broker and database: each validated and
normalized by PATCH /v1/clients/{id} (a command, audited), the wholesale and consignor rules,
possible-duplicate warnings on create and rename (never a merge), and the personal ones in the
subject-access bundle and gone after an erasure."""

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest

from services.eraser.logic import erase_due
from shared.db import Pool
from shared.settings import Settings
from tests.support.api_helpers import Shop, a_client
from tests.support.privacy_helpers import a_person, where_found

pytestmark = pytest.mark.usefixtures("pipeline")  # its commands service applies the changes


async def patch(http: httpx.AsyncClient, shop: Shop, client_id: UUID, **changes: Any
                ) -> httpx.Response:
    return await http.patch(f"/v1/clients/{client_id}", headers=shop.auth("member"),
                            json=changes)


async def test_profile_fields_are_validated_normalized_and_audited(
        http: httpx.AsyncClient, shop: Shop, pool: Pool) -> None:
    client = await a_client(pool, shop, f"profile.{uuid.uuid4().hex[:6]}@example.com")
    answer = await patch(http, shop, client, date_of_birth="1990-05-01", allergies="peanuts",
                         customer_since="2019-03-15", preferred_contact="No Preference",
                         discovery_source="Walk-in", referral_details="met at the fair",
                         instagram="https://www.instagram.com/ana.lee/?hl=en",
                         facebook="facebook.com/ana.lee", is_consignor=True,
                         consignor_code=" ab12 ")
    assert answer.status_code == 200, answer.text
    view = answer.json()["client"]
    assert {k: view[k] for k in ("date_of_birth", "allergies", "customer_since",
                                 "preferred_contact", "discovery_source", "instagram",
                                 "facebook", "is_consignor", "consignor_code")} == {
        "date_of_birth": "1990-05-01", "allergies": "peanuts", "customer_since": "2019-03-15",
        "preferred_contact": "no_preference", "discovery_source": "walk_in",
        "instagram": "ana.lee", "facebook": "https://facebook.com/ana.lee",
        "is_consignor": True, "consignor_code": "AB12"}
    entry = await pool.fetchval("SELECT changes FROM audit_log WHERE client_id = $1 AND "
                                "action = 'update' ORDER BY seq DESC LIMIT 1", client)
    assert entry["date_of_birth"] == [None, "1990-05-01"]
    assert entry["instagram"] == [None, "ana.lee"]

    for handle in ("@ana.lee", "ana.lee", "instagram.com/ana.lee"):
        same = await patch(http, shop, client, instagram=handle)
        assert same.json()["result"]["outcome"] == "unchanged", handle
    tomorrow = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
    for field, value in (("instagram", "https://twitter.com/ana"), ("instagram", "ana lee!"),
                         ("facebook", "not a url"), ("date_of_birth", tomorrow),
                         ("date_of_birth", "1850-01-01"), ("consignor_code", "TOOLONG"),
                         ("preferred_contact", "pigeon"), ("tax_exempt", None),
                         ("is_consignor", None), ("consigned_items", -1)):
        refused = await patch(http, shop, client, **{field: value})
        assert refused.status_code == 422, (field, value, refused.text)
        assert field in refused.text

    # wholesale terms are for wholesale clients
    retail = await patch(http, shop, client, wholesale_terms="Net 30")
    assert retail.status_code == 422
    assert retail.json()["result"]["errors"][0]["field"] == "wholesale_terms"
    wholesale = await patch(http, shop, client, type="wholesale", wholesale_terms="Net 30",
                            tax_exempt=True, resale_certificate="cert-2026.pdf",
                            resale_certificate_expires_on="2027-12-31")
    assert wholesale.status_code == 200, wholesale.text
    assert (wholesale.json()["client"]["wholesale_terms"],
            wholesale.json()["client"]["tax_exempt"]) == ("net_30", True)
    back = await patch(http, shop, client, type="retail")
    assert back.status_code == 422
    assert back.json()["result"]["errors"][0]["field"] == "type"

    # the consignor flag stays while consigned items reference the client
    assert (await patch(http, shop, client, consigned_items=3)).status_code == 200
    kept = await patch(http, shop, client, is_consignor=False)
    assert kept.status_code == 409
    assert "3 consigned items" in kept.text
    assert (await patch(http, shop, client, consigned_items=0)).status_code == 200
    off = await patch(http, shop, client, is_consignor=False)
    assert off.status_code == 200, off.text
    assert (off.json()["client"]["is_consignor"], off.json()["client"]["consignor_code"]) == (
        False, None)
    code_alone = await patch(http, shop, client, consignor_code="ZZ1")
    assert code_alone.status_code == 422


async def test_possible_duplicates_are_warned_and_never_merged(
        http: httpx.AsyncClient, shop: Shop, pool: Pool) -> None:
    tag = uuid.uuid4().hex[:6]
    first = await a_client(pool, shop, f"jose.{tag}@example.com", name=f"José Álvarez {tag}",
                           phone="+12075550188")
    made = await http.post("/integrations/v1/clients", headers=shop.auth("integration"),
                           json={"email": f"other.{tag}@example.com",
                                 "name": f"JOSE alvarez {tag}"})
    assert made.status_code == 201, made.text
    second = UUID(made.json()["client"]["id"])
    assert [(w["client_id"], w["reason"]) for w in made.json()["warnings"]] == [
        (str(first), "name")]
    assert second != first

    by_phone = await http.post("/integrations/v1/clients", headers=shop.auth("integration"),
                               json={"email": f"third.{tag}@example.com", "name": "Someone Else",
                                     "phone": "(207) 555-0188"})
    assert [(w["client_id"], w["reason"]) for w in by_phone.json()["warnings"]] == [
        (str(first), "phone")]
    quiet = await http.post("/integrations/v1/clients", headers=shop.auth("integration"),
                            json={"email": f"fourth.{tag}@example.com", "name": f"Nobody {tag}"})
    assert quiet.json()["warnings"] == []
    fourth = UUID(quiet.json()["client"]["id"])

    renamed = await patch(http, shop, fourth, name=f"Jose Alvarez {tag}")
    assert renamed.status_code == 200
    assert {w["client_id"] for w in renamed.json()["warnings"]} == {str(first), str(second)}
    for client_id in (first, second, fourth):  # all still there, live
        assert await pool.fetchval("SELECT deleted_at IS NULL FROM clients WHERE id = $1",
                                   client_id)


async def test_personal_profile_fields_are_exported_and_erased(
        settings: Settings, http: httpx.AsyncClient, shop: Shop, pool: Pool) -> None:
    person = await a_person(pool, http, shop, "Profiled")
    answer = await patch(http, shop, person.client_id, date_of_birth="1985-07-04",
                         allergies="shellfish", instagram="@profiled.person",
                         referral_details="sister of a regular")
    assert answer.status_code == 200, answer.text
    noted = await http.post(f"/v1/clients/{person.client_id}/notes", headers=shop.auth("member"),
                            json={"text": f"{person.name} asked about the recall"})
    assert noted.status_code == 200, noted.text
    contact = await http.post(f"/v1/clients/{person.client_id}/contacts",
                              headers=shop.auth("member"),
                              json={"email": f"assistant.of.{person.email}",
                                    "name": person.name})
    assert contact.status_code == 200, contact.text
    bundle = await http.get(f"/v1/clients/{person.client_id}/export",
                            headers=shop.auth("admin"))
    assert bundle.status_code == 200
    client = bundle.json()["client"]
    assert (client["date_of_birth"], client["allergies"], client["instagram"]) == (
        "1985-07-04", "shellfish", "profiled.person")
    assert [n["text"] for n in bundle.json()["notes"]] == [
        f"{person.name} asked about the recall"]
    assert [c["name"] for c in bundle.json()["contacts"]] == [person.name]

    made = await http.post("/v1/erasure-requests", headers=shop.auth("owner"),
                           json={"client_id": str(person.client_id), "reason": "asked"})
    assert made.status_code == 201, made.text
    await erase_due(pool, datetime.now(UTC) + timedelta(seconds=settings.erasure_cool_off_s
                                                        + 60))
    row = await pool.fetchrow("SELECT * FROM clients WHERE id = $1", person.client_id)
    assert row is not None
    assert row["erased_at"] is not None
    assert [row[k] for k in ("date_of_birth", "allergies", "instagram", "referral_details",
                             "facebook", "consignor_code")] == [None] * 6
    entries = await pool.fetch("SELECT changes FROM audit_log WHERE client_id = $1 AND "
                               "changes ? 'allergies'", person.client_id)
    assert entries
    assert all(e["changes"]["allergies"][1] == "[erased]" for e in entries)
    assert date(1985, 7, 4).isoformat() not in str([dict(e) for e in entries])
    assert await where_found(pool, person.needles()) == []  # the note, the contact: gone


async def test_the_notes_log_is_newest_first_with_authors_and_every_change_audited(
        http: httpx.AsyncClient, shop: Shop, pool: Pool) -> None:
    client = await a_client(pool, shop, f"notes.{uuid.uuid4().hex[:6]}@example.com")
    url = f"/v1/clients/{client}/notes"
    ids = []
    for text, who in (("called about the invoice", "member"), ("prefers mornings", "admin")):
        made = await http.post(url, headers=shop.auth(who), json={"text": text})
        assert made.status_code == 200, made.text
        ids.append(made.json()["result"]["note_id"])
    listed = (await http.get(url, headers=shop.auth("viewer"))).json()["notes"]
    assert [(n["id"], n["text"], n["author"]["name"]) for n in listed] == [
        (ids[1], "prefers mornings", "Admin"), (ids[0], "called about the invoice", "Member")]

    edited = await http.patch(f"{url}/{ids[0]}", headers=shop.auth("member"),
                              json={"text": "called about invoice 42"})
    assert edited.json()["result"]["outcome"] == "applied"
    same = await http.patch(f"{url}/{ids[0]}", headers=shop.auth("member"),
                            json={"text": "called about invoice 42"})
    assert same.json()["result"]["outcome"] == "unchanged"
    gone = await http.delete(f"{url}/{ids[1]}", headers=shop.auth("member"))
    assert gone.json()["result"]["outcome"] == "applied"
    assert (await http.delete(f"{url}/{ids[1]}", headers=shop.auth("member"))
            ).status_code == 404
    listed = (await http.get(url, headers=shop.auth("viewer"))).json()["notes"]
    assert [(n["text"], n["updated_at"] > n["created_at"]) for n in listed] == [
        ("called about invoice 42", True)]
    assert (await http.post(url, headers=shop.auth("viewer"), json={"text": "x"})
            ).status_code == 403
    assert (await http.post(url, headers=shop.auth("member"), json={"text": " "})
            ).status_code == 422
    assert (await http.post(url, headers=shop.auth("member"), json={"text": "x" * 5001})
            ).status_code == 422

    entries = await pool.fetch("SELECT action, changes, actor_name FROM audit_log "
                               "WHERE client_id = $1 AND action LIKE '%_note' ORDER BY seq",
                               client)
    assert [(e["action"], e["actor_name"]) for e in entries] == [
        ("add_note", "Member"), ("add_note", "Admin"), ("edit_note", "Member"),
        ("remove_note", "Member")]
    assert entries[2]["changes"]["note"] == [
        {"id": ids[0], "text": "called about the invoice"},
        {"id": ids[0], "text": "called about invoice 42"}]
    # the single notes field is another thing
    assert await pool.fetchval("SELECT notes FROM clients WHERE id = $1", client) is None


async def test_account_fields_and_a_hierarchy_that_cannot_loop(
        http: httpx.AsyncClient, shop: Shop, pool: Pool) -> None:
    from tests.support.api_helpers import a_shop
    tag = uuid.uuid4().hex[:6]
    group, branch, shop_floor = [
        await a_client(pool, shop, f"{name}.{tag}@example.com")
        for name in ("group", "branch", "floor")]
    answer = await patch(http, shop, branch, parent_id=str(group), country="us ",
                         currency="usd", qbo_id="QB-1042")
    assert answer.status_code == 200, answer.text
    view = answer.json()["client"]
    assert (view["parent_id"], view["country"], view["currency"], view["qbo_id"]) == (
        str(group), "US", "USD", "QB-1042")
    assert (await patch(http, shop, shop_floor, parent_id=str(branch))).status_code == 200

    for client, parent in ((group, shop_floor), (group, branch), (branch, branch)):
        refused = await patch(http, shop, client, parent_id=str(parent))
        assert refused.status_code == 422, refused.text
        assert "loop" in refused.json()["result"]["errors"][0]["message"]
    theirs = await a_client(pool, await a_shop(pool), f"t.{tag}@example.com")
    elsewhere = await patch(http, shop, group, parent_id=str(theirs))
    assert elsewhere.status_code == 422
    assert elsewhere.json()["result"]["errors"][0]["field"] == "parent_id"
    assert await pool.fetchval("SELECT parent_id FROM clients WHERE id = $1",
                               group) is None
    for field, value in (("country", "XX"), ("country", "USA"), ("currency", "US1")):
        assert (await patch(http, shop, group, **{field: value})).status_code == 422, value
    cleared = await patch(http, shop, branch, parent_id=None)
    assert cleared.json()["client"]["parent_id"] is None

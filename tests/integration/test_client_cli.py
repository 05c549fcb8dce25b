"""`clients client …`: a member at the command line, in a real process, against the running
pipeline (its commands service applies the writes). The audit names the member."""

import csv
import io
from typing import Any

import httpx
import pytest

from shared.db import Pool
from tests.support.api_helpers import Shop, a_client
from tests.support.cli_helpers import cli

pytestmark = pytest.mark.usefixtures("pipeline")


async def clients(*args: str, token: str | None = None) -> tuple[int, Any, str]:
    return await cli("client", *args, token=token)


async def test_a_member_reads_changes_tags_and_archives_and_the_audit_names_them(
        pool: Pool, shop: Shop) -> None:
    client_id = str(await a_client(pool, shop, "cli@client.example", name="Cli Person"))
    member = shop.tokens["member"]
    code, page, _ = await clients("list", "--q", "cli@", token=member)
    assert code == 0
    assert [c["id"] for c in page["clients"]] == [client_id]

    code, answer, err = await clients("update", client_id, "--set", "company=Acme",
                                      "--set", "credit_limit=10.5", "--token", member)
    assert code == 0, err
    assert answer["client"]["company"] == "Acme"
    code, answer, _ = await clients("tag", client_id, "--add", "VIP", token=member)
    assert answer["client"]["tags"] == ["vip"]

    _, audit, _ = await clients("audit", client_id, token=shop.tokens["viewer"])
    assert [(e["action"], e["actor"]["name"]) for e in audit["entries"]] == [
        ("tag", "Member"), ("update", "Member"), ("created", "WooCommerce")]

    code, _, err = await clients("archive", client_id, token=member)
    assert code == 1
    assert "missing scope clients:delete" in err
    code, answer, _ = await clients("archive", client_id, token=shop.tokens["admin"])
    assert code == 0
    assert answer["client"]["archived_at"] is not None
    code, _, err = await clients("get", client_id, token=shop.tokens["integration"])
    assert code == 1
    assert "missing scope clients:read" in err

    code, text, _ = await clients("export", "--archived", token=shop.tokens["admin"])
    assert code == 0
    assert [r["Email"] for r in csv.DictReader(io.StringIO(text))] == ["cli@client.example"]


async def test_without_a_token_or_with_a_bad_one_nothing_runs(shop: Shop) -> None:
    code, _, err = await clients("list")
    assert code == 2
    assert "CLIENTS_TOKEN" in err
    code, _, err = await clients("list", token="pck_usr_" + "x" * 40)
    assert code == 1
    assert "unknown or revoked token" in err
    code, _, err = await clients("update", "not-a-uuid", "--set", "company=x",
                                 token=shop.tokens["member"])
    assert code == 2   # the parser refuses the id before any lookup


async def test_a_member_keeps_notes_sets_profile_fields_and_merges(
        pool: Pool, shop: Shop, http: httpx.AsyncClient) -> None:
    primary = str(await a_client(pool, shop, "keep@client.example", name="Kept Person"))
    secondary = str(await a_client(pool, shop, "dupe@client.example", name="Kept Person",
                                   phone="+12075550144"))
    member = shop.tokens["member"]
    code, answer, err = await clients("note", primary, "called back", token=member)
    assert code == 0, err
    assert answer["result"]["note_id"]
    _, notes, _ = await clients("notes", primary, token=shop.tokens["viewer"])
    assert [(n["text"], n["author"]["name"]) for n in notes["notes"]] == [
        ("called back", "Member")]
    code, answer, err = await clients("update", primary, "--set", "instagram=@kept.person",
                                      "--set", "preferred_contact=Text", token=member)
    assert code == 0, err
    assert (answer["client"]["instagram"], answer["client"]["preferred_contact"]) == (
        "kept.person", "text")
    for path, verb, body in (("contacts", "POST", {"email": "ops@kept.example",
                                                    "role": "VIEWER"}),
                             ("price-overrides/SKU-1", "PUT",
                              {"price_minor": 500, "currency": "EUR"})):
        made = await http.request(verb, f"/v1/clients/{primary}/{path}",
                                  headers=shop.auth("member"), json=body)
        assert made.status_code == 200, made.text
    _, contacts, _ = await clients("contacts", primary, token=shop.tokens["viewer"])
    assert [(c["email"], c["role"], c["account_status"]) for c in contacts["contacts"]] == [
        ("ops@kept.example", "VIEWER", "ACTIVE")]
    _, prices, _ = await clients("prices", primary, token=shop.tokens["viewer"])
    assert [(p["product_id"], p["price_minor"]) for p in prices["price_overrides"]] == [
        ("SKU-1", 500)]
    code, answer, err = await clients("merge", primary, secondary, token=member)
    assert code == 0, err
    assert answer["client"]["phone"] == "+12075550144"
    _, gone, _ = await clients("get", secondary, token=member)
    assert gone["merged_into"] == primary

"""Subject access and the privacy CLI on the real broker and database: the bundle holds every
kind of data seeded for a person and nothing of anyone else, is audited, and is the same from
`clients client export ID`; `clients erasure` and `clients compliance ruo` at the command line."""

import uuid

import httpx

from schemas.privacy import SubjectAccessBundle
from shared.db import Pool
from tests.conftest import Pipeline
from tests.support.api_helpers import Shop
from tests.support.cli_helpers import cli
from tests.support.privacy_helpers import a_person


async def test_the_bundle_holds_everything_about_the_person_and_nothing_of_anyone_else(
        http: httpx.AsyncClient, shop: Shop, pool: Pool) -> None:
    person = await a_person(pool, http, shop, "Subject")
    other = await a_person(pool, http, shop, "Other")
    answer = await http.get(f"/v1/clients/{person.client_id}/export", headers=shop.auth("admin"))
    assert answer.status_code == 200, answer.text
    bundle = SubjectAccessBundle.model_validate(answer.json())  # the checked-in schema's model
    assert bundle.bundle_version == 1
    assert bundle.client["email"] == person.email
    assert bundle.client["name"] == person.name
    assert [e["external_id"] for e in bundle.external_ids] == [person.external_id]
    assert bundle.touches[0]["external_id"] == person.external_id
    (thread,) = bundle.threads
    (message,) = thread.messages
    assert message.text == f"Hi {person.name}"
    assert [s.state for s in message.delivery_states] == ["delivered"]
    assert [a.ip for a in bundle.attestations] == ["203.0.113.7"]
    assert [e["action"] for e in bundle.audit][:2] == ["created", "update"]
    assert bundle.erasure_requests == []
    assert bundle.orders == []
    assert bundle.payments == []
    text = answer.text.lower()
    assert not [n for n in other.needles() if n.lower() in text]

    entries = (await http.get(f"/v1/clients/{person.client_id}/audit",
                              headers=shop.auth("viewer"))).json()["entries"]
    assert (entries[0]["action"], entries[0]["actor"]["name"]) == ("exported", "Admin")
    elsewhere = await http.get(f"/v1/clients/{uuid.uuid4()}/export", headers=shop.auth("admin"))
    assert elsewhere.status_code == 404

    code, from_cli, err = await cli("client", "export", str(person.client_id),
                                    token=shop.tokens["owner"])
    assert code == 0, err
    assert from_cli["client"] == answer.json()["client"]
    assert from_cli["threads"] == answer.json()["threads"]


async def test_erasure_and_ruo_settings_at_the_command_line(
        pipeline: Pipeline, http: httpx.AsyncClient, shop: Shop, pool: Pool) -> None:
    person = await a_person(pool, http, shop, "Cli")
    code, _, err = await cli("erasure", "request", str(person.client_id), "--reason", "asked",
                             token=shop.tokens["admin"])
    assert code == 1
    assert "missing scope clients:erase" in err
    code, made, err = await cli("erasure", "request", str(person.client_id), "--reason",
                                "asked by email", token=shop.tokens["owner"])
    assert code == 0, err
    assert made["erasure"]["status"] == "pending"
    code, listed, _ = await cli("erasure", "list", "--status", "pending",
                                token=shop.tokens["owner"])
    assert [r["id"] for r in listed["requests"]] == [made["erasure"]["id"]]
    code, cancelled, err = await cli("erasure", "cancel", made["erasure"]["id"],
                                     token=shop.tokens["owner"])
    assert code == 0, err
    assert cancelled["erasure"]["status"] == "cancelled"

    store = str(shop.store.id)
    code, saved, err = await cli("compliance", "ruo", "--store", store, "--text", "RUO only",
                                 "--version", "2", "--validity-days", "90")
    assert code == 0, err
    code, shown, _ = await cli("compliance", "ruo", "--store", store)
    assert (shown["text"], shown["version"], shown["validity_days"]) == ("RUO only", 2, 90)
    served = (await http.get("/v1/compliance/ruo", headers=shop.auth("viewer"))).json()
    assert served == saved

"""The clients API (`/v1`) through the running pipeline (edge, commands, upsert, relay) on the
real broker and database: scopes per role and key, another store's ids, writes as commands with
their versions and audit entries, conflicts, idempotency, tag counts, and the edge's gate."""

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import httpx
import pytest

from schemas import generate
from shared import access
from shared.db import Pool
from tests.conftest import Pipeline
from tests.support.api_helpers import Shop, a_client, a_shop

# (method, path, body, the scope it needs); {id} is a client of the shop.
ROUTES = [
    ("GET", "/v1/clients", None, "clients:read"),
    ("GET", "/v1/clients/{id}", None, "clients:read"),
    ("GET", "/v1/clients/{id}/timeline", None, "clients:read"),
    ("GET", "/v1/clients/{id}/audit", None, "clients:read"),
    ("GET", "/v1/tags", None, "clients:read"),
    ("PATCH", "/v1/clients/{id}", {"company": "Acme"}, "clients:write"),
    ("POST", "/v1/clients/{id}/tags", {"add": ["vip"]}, "clients:write"),
    ("POST", "/v1/clients/bulk/tags", {"client_ids": ["{id}"], "add": ["vip"]}, "clients:write"),
    ("GET", "/v1/clients/export.csv", None, "clients:export"),
    ("DELETE", "/v1/clients/{id}", None, "clients:delete"),
    ("POST", "/v1/clients/{id}/restore", None, "clients:delete"),
]
SCOPES: dict[str, frozenset[str]] = {
    **{role: access.ROLE_SCOPES[role] for role in access.ROLES},
    "public": access.PUBLIC_SCOPES, "integration": frozenset()}


def _fill(value: Any, client_id: UUID) -> Any:
    if isinstance(value, str):
        return value.replace("{id}", str(client_id))
    if isinstance(value, list):
        return [_fill(v, client_id) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, client_id) for k, v in value.items()}
    return value


@pytest.mark.parametrize("who", list(SCOPES))
async def test_each_token_reaches_the_routes_its_scopes_allow_and_is_told_which_it_lacks(
        pool: Pool, http: httpx.AsyncClient, shop: Shop, who: str) -> None:
    client_id = await a_client(pool, shop, f"{who}@scopes.example")
    for method, path, body, scope in ROUTES:
        answer = await http.request(method, _fill(path, client_id), json=_fill(body, client_id),
                                    headers=shop.auth(who))
        if scope in SCOPES[who]:
            assert answer.status_code == 200, (who, method, path, answer.text)
        else:
            assert answer.status_code == 403, (who, method, path, answer.text)
            assert answer.json()["scope"] == scope
            assert scope in answer.json()["error"]


async def test_no_token_or_an_unknown_or_revoked_one_is_401_before_the_body_is_read(
        pool: Pool, http: httpx.AsyncClient, shop: Shop) -> None:
    revoked = await access.add_member(pool, shop.store.id, "Gone", "owner")
    await access.revoke_member(pool, revoked.id)
    for headers in ({}, {"Authorization": "Bearer pck_usr_" + "x" * 40},
                    {"Authorization": f"Bearer {revoked.token}"},
                    {"Authorization": f"Basic {shop.tokens['owner']}"}):
        answer = await http.patch(f"/v1/clients/{uuid.uuid4()}", content=b"{not json",
                                  headers=headers)
        assert answer.status_code == 401, answer.text
        assert answer.headers["www-authenticate"] == "Bearer"


async def test_another_stores_client_is_404_on_every_route(
        pool: Pool, http: httpx.AsyncClient, shop: Shop) -> None:
    other = await a_shop(pool)
    theirs = await a_client(pool, other, "theirs@other.example", tags=["secret"])
    for method, path, body, _ in ROUTES:
        if "{id}" not in path or "bulk" in path:
            continue
        answer = await http.request(method, _fill(path, theirs), json=_fill(body, theirs),
                                    headers=shop.auth("owner"))
        assert answer.status_code == 404, (method, path, answer.text)
    bulk = await http.post("/v1/clients/bulk/tags", headers=shop.auth("owner"),
                           json={"client_ids": [str(theirs)], "add": ["mine"]})
    assert bulk.json()["result"]["client_ids"] == []
    assert await pool.fetchval("SELECT tags FROM clients WHERE id = $1", theirs) == ["secret"]
    listed = await http.get("/v1/clients", headers=shop.auth("owner"))
    assert str(theirs) not in {c["id"] for c in listed.json()["clients"]}


async def test_a_patch_is_a_command_with_a_version_an_event_and_an_audit_entry_naming_the_member(
        pool: Pool, http: httpx.AsyncClient, shop: Shop) -> None:
    client_id = await a_client(pool, shop, "patch@api.example", phone="(415) 555-2671")
    answer = await http.patch(f"/v1/clients/{client_id}", headers=shop.auth("member"),
                              json={"company": "Acme", "phone": None, "status": "BLOCKED",
                                    "credit_limit": "250.50", "expected_version": 1})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["result"]["outcome"] == "applied"
    assert body["client"]["version"] == 2
    assert (body["client"]["company"], body["client"]["phone"], body["client"]["status"],
            body["client"]["credit_limit"]) == ("Acme", None, "BLOCKED", "250.50")
    audit = (await http.get(f"/v1/clients/{client_id}/audit", headers=shop.auth("viewer"))
             ).json()["entries"]
    assert [e["action"] for e in audit] == ["update", "created"]
    assert audit[0]["actor"] == {"type": "member", "id": audit[0]["actor"]["id"],
                                 "name": "Member"}
    assert audit[0]["changes"] == {"company": [None, "Acme"], "phone": ["+14155552671", None],
                                   "status": ["ACTIVE", "BLOCKED"],
                                   "credit_limit": [None, "250.50"]}
    assert audit[0]["command_id"] == body["result"]["command_id"]
    event = await pool.fetchval("SELECT payload FROM outbox WHERE key = $1 AND "
                                "payload->>'type' = 'client.updated'", str(client_id))
    if event is not None:  # the relay may have published and removed it already
        assert sorted(event["changed"]) == ["company", "credit_limit", "phone", "status"]


async def test_the_same_command_id_twice_applies_once_and_answers_the_same(
        pool: Pool, http: httpx.AsyncClient, shop: Shop) -> None:
    client_id = await a_client(pool, shop, "twice@api.example")
    body = {"add": ["vip"], "command_id": f"retry-{uuid.uuid4().hex}"}
    first = await http.post(f"/v1/clients/{client_id}/tags", json=body,
                            headers=shop.auth("member"))
    again = await http.post(f"/v1/clients/{client_id}/tags", json=body,
                            headers=shop.auth("member"))
    assert first.status_code == again.status_code == 200
    assert first.json()["result"] == again.json()["result"]
    assert await pool.fetchval("SELECT count(*) FROM audit_log WHERE client_id = $1",
                               client_id) == 2   # created + one tag


async def test_conflicts_are_409_naming_what_conflicts(
        pool: Pool, http: httpx.AsyncClient, shop: Shop) -> None:
    ana = await a_client(pool, shop, "ana@conflict.example")
    bea = await a_client(pool, shop, "bea@conflict.example")
    stale = await http.patch(f"/v1/clients/{ana}", headers=shop.auth("member"),
                             json={"company": "Acme", "expected_version": 7})
    assert stale.status_code == 409
    assert stale.json()["result"]["errors"][0]["field"] == "expected_version"
    taken = await http.patch(f"/v1/clients/{ana}", headers=shop.auth("member"),
                             json={"email": "BEA@conflict.example"})
    assert taken.status_code == 409
    assert taken.json()["result"]["conflict_client_id"] == str(bea)
    archived = await http.delete(f"/v1/clients/{bea}", headers=shop.auth("admin"))
    assert archived.json()["client"]["archived_at"] is not None
    moved = await http.patch(f"/v1/clients/{ana}", headers=shop.auth("member"),
                             json={"email": "bea@conflict.example"})
    assert moved.status_code == 200, moved.text   # an archived client frees its email
    refused = await http.post(f"/v1/clients/{bea}/restore", headers=shop.auth("admin"))
    assert refused.status_code == 409
    assert refused.json()["result"]["conflict_client_id"] == str(ana)


async def test_bad_writes_are_422_naming_the_field_and_write_nothing(
        pool: Pool, http: httpx.AsyncClient, shop: Shop) -> None:
    client_id = await a_client(pool, shop, "bad@api.example")
    for body, field in (({"email": "not an email"}, "email"), ({"credit_limit": "1.234"},
                        "credit_limit"), ({"nickname": "x"}, "nickname"), ({}, "body"),
                        ({"name": "a\u0000b"}, "name"), ({"phone": "12"}, "phone")):
        answer = await http.patch(f"/v1/clients/{client_id}", json=body,
                                  headers=shop.auth("member"))
        assert answer.status_code == 422, (body, answer.text)
        problem = answer.json()
        fields = [e["field"] for e in problem.get("errors") or problem["result"]["errors"]]
        assert any(field in f for f in fields), (body, problem)
    assert await pool.fetchval("SELECT version FROM clients WHERE id = $1", client_id) == 1


async def test_a_body_over_the_cap_is_413(http: httpx.AsyncClient, pipeline: Pipeline,
                                          shop: Shop) -> None:
    huge = b'{"notes": "' + b"x" * (pipeline.settings.http_max_body_bytes + 10) + b'"}'
    declared = await http.patch(f"/v1/clients/{uuid.uuid4()}", content=huge,
                                headers={**shop.auth("member"),
                                         "content-type": "application/json"})
    assert declared.status_code == 413

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: streamed
        for i in range(0, len(huge), 65536):
            yield huge[i:i + 65536]
    streamed = await http.patch(f"/v1/clients/{uuid.uuid4()}", content=chunks(),
                                headers={**shop.auth("member"),
                                         "content-type": "application/json"})
    assert streamed.status_code == 413


async def tag_counts(http: httpx.AsyncClient, shop: Shop, prefix: str) -> dict[str, int]:
    answer = await http.get("/v1/tags", params={"prefix": prefix}, headers=shop.auth("viewer"))
    assert answer.status_code == 200, answer.text
    return {t["tag"]: t["clients"] for t in answer.json()["tags"]}


async def test_tag_counts_follow_adds_removals_archive_and_restore(
        pool: Pool, http: httpx.AsyncClient, shop: Shop) -> None:
    ids = [await a_client(pool, shop, f"t{i}@tags.example", tags=["New-Client"])
           for i in range(3)]
    assert await tag_counts(http, shop, "ne") == {"new-client": 3}
    bulk = await http.post("/v1/clients/bulk/tags", headers=shop.auth("member"),
                           json={"client_ids": [str(i) for i in ids], "add": ["net-30"]})
    assert bulk.status_code == 200, bulk.text
    assert await tag_counts(http, shop, "ne") == {"new-client": 3, "net-30": 3}
    assert list(await tag_counts(http, shop, "ne")) == ["net-30", "new-client"]  # by use, name
    await http.post(f"/v1/clients/{ids[0]}/tags", headers=shop.auth("member"),
                    json={"remove": ["net-30"], "add": ["netflix"]})
    assert await tag_counts(http, shop, "net") == {"net-30": 2, "netflix": 1}
    await http.delete(f"/v1/clients/{ids[1]}", headers=shop.auth("admin"))
    assert await tag_counts(http, shop, "ne") == {"new-client": 2, "net-30": 1, "netflix": 1}
    await http.post(f"/v1/clients/{ids[1]}/restore", headers=shop.auth("admin"))
    assert await tag_counts(http, shop, "new") == {"new-client": 3}
    assert await tag_counts(http, shop, "net_") == {}   # a LIKE wildcard is a character
    other = await a_shop(pool)
    assert await tag_counts(http, other, "") == {}


async def test_the_edge_serves_the_checked_in_openapi_document(http: httpx.AsyncClient) -> None:
    served = await http.get("/openapi.json")
    assert served.status_code == 200
    assert served.json() == json.loads((generate.OUT / "openapi.json").read_text())
    assert "/v1/clients/{client_id}/timeline" in served.json()["paths"]


async def test_hostile_input_is_a_clear_4xx_and_writes_nothing(
        pool: Pool, http: httpx.AsyncClient, shop: Shop) -> None:
    client_id = await a_client(pool, shop, "hostile@api.example")
    member = {**shop.auth("member"), "content-type": "application/json"}
    for params in ({"q": "a\x00b"}, {"tags": "\x00"}, {"source": "x\x00"},
                   {"cursor": "\x00"}, {"q": "x" * 201}):
        answer = await http.get("/v1/clients", params=params, headers=shop.auth("viewer"))
        assert answer.status_code == 422, (params, answer.text)
    assert (await http.get("/v1/tags", params={"prefix": "\x00"},
                           headers=shop.auth("viewer"))).status_code == 422
    for body in (b"[" * 10000 + b"]" * 10000, b'{"company": "\xff\xfe"}', b'{"company": "x"',
                 b'{"company": "\\ud800"}', b'{"company": 5}', b'{"name": ["a"]}',
                 b'{"company": "x", "company": "y", "extra": {"deep": [[[[]]]]}}',
                 b'{"credit_limit": 1e400}', b'{"credit_limit": "-1"}',
                 b"1" * 5000):
        answer = await http.patch(f"/v1/clients/{client_id}", content=body, headers=member)
        assert answer.status_code in (400, 422), (body[:40], answer.status_code, answer.text)
        assert answer.json()["error"], answer.text
    too_many = await http.post("/v1/clients/bulk/tags", headers=member, json={
        "client_ids": [str(uuid.uuid4()) for _ in range(1001)], "add": ["x"]})
    assert too_many.status_code == 422
    not_a_uuid = await http.get("/v1/clients/not-a-uuid", headers=shop.auth("viewer"))
    assert not_a_uuid.status_code == 422
    assert await pool.fetchval("SELECT version FROM clients WHERE id = $1", client_id) == 1


async def test_hostile_input_to_the_profile_routes_is_a_clear_4xx_and_writes_nothing(
        pool: Pool, http: httpx.AsyncClient, shop: Shop) -> None:
    client_id = await a_client(pool, shop, "hostile.profile@api.example")
    member = {**shop.auth("member"), "content-type": "application/json"}
    admin = {**shop.auth("admin"), "content-type": "application/json"}
    calls: list[tuple[str, str, dict[str, str], bytes]] = [
        ("POST", f"/v1/clients/{client_id}/notes", member, b'{"text": "a\\u0000b"}'),
        ("POST", f"/v1/clients/{client_id}/notes", member, b'{"text": "\\ud800"}'),
        ("POST", f"/v1/clients/{client_id}/notes", member, b'{"text": ["x"]}'),
        ("POST", f"/v1/clients/{client_id}/contacts", member, b'{"email": "a\\u0000@b.co"}'),
        ("POST", f"/v1/clients/{client_id}/contacts", member,
         b'{"email": "' + b"x" * 300 + b'@b.co"}'),
        ("PUT", f"/v1/clients/{client_id}/price-overrides/a%00b", member,
         b'{"price_minor": 1, "currency": "USD"}'),
        ("PUT", f"/v1/clients/{client_id}/price-overrides/p", member,
         b'{"price_minor": 1e400, "currency": "USD"}'),
        ("POST", "/v1/customer-types", admin, b'{"name": "\\u0000"}'),
        ("POST", "/v1/customer-types", admin, b'{"name": "' + b"n" * 101 + b'"}'),
        ("POST", "/v1/clients/merge", member, b'{"primary_id": "x", "secondary_id": 5}'),
        ("PATCH", f"/v1/clients/{client_id}", member, b'{"date_of_birth": "0000-00-00"}'),
        ("PATCH", f"/v1/clients/{client_id}", member, b'{"instagram": "' + b"a" * 5000 + b'"}'),
        ("PATCH", f"/v1/clients/{client_id}", member, b'{"parent_id": "not-a-uuid"}'),
        ("PATCH", f"/v1/clients/{client_id}", member,
         b'{"addresses": [{"type": "moon", "address1": "x", "city": "y"}]}'),
    ]
    for method, url, headers, body in calls:
        answer = await http.request(method, url, content=body, headers=headers)
        assert answer.status_code in (400, 422), (method, url, body[:50], answer.text)
    assert await pool.fetchval("SELECT version FROM clients WHERE id = $1", client_id) == 1
    for table in ("client_notes", "client_contacts", "price_overrides"):
        assert await pool.fetchval(f"SELECT count(*) FROM {table} WHERE client_id = $1",  # noqa: S608
                                   client_id) == 0
    assert await pool.fetchval("SELECT count(*) FROM master_data WHERE store_id = $1",
                               shop.store.id) == 0

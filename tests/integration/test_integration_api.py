"""POST /integrations/v1/clients over real HTTP, through the same topic and resolver; and
hostile requests (hardening, defect 7): authenticate before reading, cap the body, require JSON,
and answer unreadable JSON with 422, never 500, keeping the connection usable."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httpx
import pytest

from services.edge.app import create_app
from shared import stores
from shared.db import Pool
from shared.resources import open_deps
from shared.topics import INGEST
from tests.conftest import Pipeline, eventually
from tests.support.kafka_helpers import end_offsets

ROUTE = "/integrations/v1/clients"


@pytest.fixture
async def key(pool: Pool, store: stores.Store) -> stores.IssuedKey:
    return await stores.create_key(pool, store.id, "Storefront")


@pytest.fixture
async def http(pipeline: Pipeline) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=pipeline.base_url, timeout=30) as client:
        yield client


def auth(key: stores.IssuedKey | str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key if isinstance(key, str) else key.token}"}


async def test_create_is_201_then_the_same_email_is_200_duplicate(
        http: httpx.AsyncClient, key: stores.IssuedKey) -> None:
    created = await http.post(ROUTE, headers=auth(key),
                              json={"email": "Api@Shop.com", "name": "Api User"})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["duplicate"] is False
    assert body["client"]["email"] == "Api@Shop.com"
    assert body["client"]["store_id"] == str(key.store_id)
    assert body["client"]["source_label"] == "Storefront"

    again = await http.post(ROUTE, headers=auth(key),
                            json={"email": " api@shop.COM ", "name": "Someone Else"})
    assert again.status_code == 200, again.text
    assert again.json()["duplicate"] is True
    assert again.json()["client"]["id"] == body["client"]["id"]


async def test_the_same_request_id_gives_the_same_answer(http: httpx.AsyncClient,
                                                         key: stores.IssuedKey) -> None:
    payload = {"email": "idem@shop.com", "name": "Idem", "request_id": uuid.uuid4().hex}
    first = await http.post(ROUTE, headers=auth(key), json=payload)
    second = await http.post(ROUTE, headers=auth(key), json=payload)
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json() == second.json()


@pytest.mark.parametrize("header", [None, "Bearer", "Basic abc", "Bearer pck_int_forged"])
async def test_missing_or_unknown_key_is_401_and_nothing_is_published(
        pipeline: Pipeline, http: httpx.AsyncClient, header: str | None) -> None:
    before = await end_offsets(pipeline.settings.kafka_bootstrap_servers, INGEST)
    headers = {"Authorization": header} if header else {}
    response = await http.post(ROUTE, headers=headers, json={"email": "x@shop.com", "name": "X"})
    assert response.status_code == 401
    assert await end_offsets(pipeline.settings.kafka_bootstrap_servers, INGEST) == before


async def test_a_revoked_key_is_401(pool: Pool, http: httpx.AsyncClient,
                                    key: stores.IssuedKey) -> None:
    await stores.revoke_key(pool, key.id)
    response = await http.post(ROUTE, headers=auth(key), json={"email": "r@shop.com", "name": "R"})
    assert response.status_code == 401


@pytest.mark.parametrize(("body", "field"), [
    ({"email": "nope", "name": "N"}, "email"),
    ({"email": "ok@shop.com"}, "name"),
    ({"name": "No Contact"}, "email"),
    ({"email": "ok@shop.com", "name": "N", "shoe_size": 44}, "shoe_size"),
    ({"email": "ok@shop.com", "name": "N", "integration_key": "pck_int_x"}, "integration_key"),
    ({"email": "ok@shop.com", "name": "N" * 101}, "name"),
    ({"email": "ok@shop.com", "name": "N", "tags": ["t"] * 251}, "tags"),
    ({"phone": "1", "name": "N"}, "phone"),
    ([1, 2, 3], "body"),
])
async def test_invalid_fields_are_422_naming_them(pipeline: Pipeline, http: httpx.AsyncClient,
                                                  key: stores.IssuedKey, body: object,
                                                  field: str) -> None:
    before = await end_offsets(pipeline.settings.kafka_bootstrap_servers, INGEST)
    response = await http.post(ROUTE, headers=auth(key), json=body)
    assert response.status_code == 422
    assert field in [e["field"] for e in response.json()["errors"]]
    assert await end_offsets(pipeline.settings.kafka_bootstrap_servers, INGEST) == before


async def test_no_result_in_time_is_202_with_the_request_id(
        pipeline: Pipeline, pool: Pool, key: stores.IssuedKey) -> None:
    impatient = pipeline.settings.model_copy(update={"http_result_timeout_s": 0.0001})
    async with open_deps(impatient) as deps:
        await deps.start()
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(deps)),
                                     base_url="http://edge") as http:
            response = await http.post(ROUTE, headers=auth(key),
                                       json={"email": "later@shop.com", "name": "Later"})
    assert response.status_code == 202
    request_id = response.json()["request_id"]

    # it was accepted all the same: the pipeline resolves it
    async def resolved() -> bool:
        n = await pool.fetchval("SELECT count(*) FROM client_touches WHERE store_id = $1 "
                                "AND request_id = $2", key.store_id, request_id)
        return bool(n == 1)
    await eventually(resolved)


async def test_a_request_id_is_per_key_not_per_store(http: httpx.AsyncClient, pool: Pool,
                                                     key: stores.IssuedKey) -> None:
    """Two keys of one store may both send request "r-1" about different people."""
    other = await stores.create_key(pool, key.store_id, "Backoffice")
    request_id = f"r-{uuid.uuid4().hex[:6]}"
    first = await http.post(ROUTE, headers=auth(key), json={
        "email": "first@shop.com", "name": "First", "request_id": request_id})
    second = await http.post(ROUTE, headers=auth(other), json={
        "email": "second@shop.com", "name": "Second", "request_id": request_id})
    assert (first.status_code, second.status_code) == (201, 201), second.text
    assert second.json()["client"]["email"] == "second@shop.com"
    assert first.json()["client"]["id"] != second.json()["client"]["id"]
    emails = {r["email"] for r in await pool.fetch(
        "SELECT email FROM clients WHERE store_id = $1", key.store_id)}
    assert emails == {"first@shop.com", "second@shop.com"}


def headers(key: stores.IssuedKey, content_type: str = "application/json") -> dict[str, str]:
    return auth(key) | {"Content-Type": content_type}


@pytest.mark.parametrize(("body", "field"), [
    (b"[" * 10_000 + b"]" * 10_000, "body"),
    (b'{"name": "N", "email": "d@x.com", "phone": ' + b"9" * 5000 + b"}", "body"),
    (b'{"name": "A\\u0000B", "email": "nul@x.com"}', "name"),
    (b'{"name": "N", "email": "n@x.com", "notes": "\\ud800"}', "notes"),
    (b'{"name": "N", "email": "n@x.com", "tags": ["ok", "x\\u0000"]}', "tags.1"),
    (b'{"name": "N", "email": "n@x.com", "\\udc00": 1}', "record"),
    (b"\xff\xfe not utf-8", "body"),
])
async def test_unreadable_or_unstorable_json_is_422_and_the_connection_lives_on(
        http: httpx.AsyncClient, key: stores.IssuedKey, body: bytes, field: str) -> None:
    bad = await http.post(ROUTE, headers=headers(key), content=body)
    assert bad.status_code == 422, bad.text
    assert field in [e["field"] for e in bad.json()["errors"]]
    after = await http.post(ROUTE, headers=headers(key),
                            json={"name": "After", "email": "after-hostile@shop.com"})
    assert after.status_code in (200, 201), after.text


@pytest.mark.parametrize("content_type", ["", "text/plain", "application/x-www-form-urlencoded"])
async def test_a_body_that_is_not_declared_json_is_415(
        http: httpx.AsyncClient, key: stores.IssuedKey, content_type: str) -> None:
    sent = auth(key) | ({"Content-Type": content_type} if content_type else {})
    answer = await http.post(ROUTE, headers=sent, content=b'{"name": "N", "email": "t@x.com"}')
    assert answer.status_code == 415
    assert "application/json" in answer.json()["error"]


async def test_json_with_a_charset_is_accepted(http: httpx.AsyncClient,
                                               key: stores.IssuedKey) -> None:
    answer = await http.post(ROUTE, headers=headers(key, "application/json; charset=utf-8"),
                             content=b'{"name": "Charset", "email": "charset@x.com"}')
    assert answer.status_code == 201, answer.text


async def test_a_streamed_body_over_the_cap_is_413(http: httpx.AsyncClient,
                                                   key: stores.IssuedKey) -> None:
    async def chunks() -> AsyncIterator[bytes]:   # no Content-Length: chunked
        yield b'{"name": "' + b"x" * 600_000
        yield b"y" * 600_000 + b'"}'
    answer = await http.post(ROUTE, headers=headers(key), content=chunks())
    assert answer.status_code == 413
    assert "1048576" in answer.json()["error"]


async def first_answer(base_url: str, head: bytes) -> bytes:
    """Send only the request line and headers, then read the status line: what the edge
    answers before a single byte of the body it was promised arrives."""
    url = urlsplit(base_url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    try:
        writer.write(head)
        await writer.drain()
        return await asyncio.wait_for(reader.readline(), timeout=20)
    finally:
        writer.close()


async def test_an_unauthenticated_100_mb_body_is_refused_before_it_is_read(
        pipeline: Pipeline) -> None:
    status = await first_answer(pipeline.base_url, (
        f"POST {ROUTE} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {100 * 1024 * 1024}\r\n\r\n").encode())
    assert status.startswith(b"HTTP/1.1 401")


async def test_a_declared_body_over_the_cap_is_413_before_it_is_read(
        pipeline: Pipeline, key: stores.IssuedKey) -> None:
    status = await first_answer(pipeline.base_url, (
        f"POST {ROUTE} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key.token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {10 * 1024 * 1024}\r\n\r\n").encode())
    assert status.startswith(b"HTTP/1.1 413")

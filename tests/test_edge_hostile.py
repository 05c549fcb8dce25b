"""Hostile requests to the Integration API (hardening, defect 7): authenticate before reading,
cap the body, require JSON, and answer unreadable JSON with 422, never 500, keeping the
connection usable."""

import asyncio
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httpx
import pytest

from shared import stores
from shared.db import Pool
from tests.conftest import Pipeline

ROUTE = "/integrations/v1/clients"


@pytest.fixture
async def key(pool: Pool, store: stores.Store) -> stores.IssuedKey:
    return await stores.create_key(pool, store.id, "Edge")


@pytest.fixture
async def http(pipeline: Pipeline) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=pipeline.base_url, timeout=30) as client:
        yield client


def headers(key: stores.IssuedKey, content_type: str = "application/json") -> dict[str, str]:
    return {"Authorization": f"Bearer {key.token}", "Content-Type": content_type}


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
    sent = {"Authorization": f"Bearer {key.token}"} | (
        {"Content-Type": content_type} if content_type else {})
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

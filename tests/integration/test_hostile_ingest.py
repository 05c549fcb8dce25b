"""Hostile records on the ingest topic (hardening issue, defects 1, 2, 3 and 6): each one is put
on a partition followed by a good record. The good one is processed once; the bad one is
dead-lettered exactly once, with its reason, and no integration key travels anywhere."""

import asyncio
import base64
import contextlib
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer, ConsumerRecord

from services.ingest.logic import ingest_batch
from shared import stores
from shared.db import Pool
from shared.settings import servers
from shared.topics import INGEST, INGEST_DLQ, UPSERT, UPSERT_RESULTS
from tests.conftest import Pipeline
from tests.support.kafka_helpers import Watcher


@pytest.fixture
async def key(pool: Pool, store: stores.Store) -> stores.IssuedKey:
    return await stores.create_key(pool, store.id, "Hostile")


def good_record(key: stores.IssuedKey) -> dict[str, Any]:
    return {"integration_key": key.token, "request_id": uuid.uuid4().hex,
            "email": f"good-{uuid.uuid4().hex[:8]}@shop.com", "name": "Good Neighbour"}


def as_json(value: Any) -> bytes:
    return json.dumps(value).encode()


# name -> (bytes of the record given the token, reason, field named in the errors)
HOSTILE: dict[str, tuple[Callable[[str], bytes], str, str]] = {
    "nested 10,000 deep": (lambda t: b"[" * 10_000 + b"]" * 10_000, "malformed", "payload"),
    "a 5,000-digit number": (
        lambda t: b'{"integration_key": "' + t.encode() + b'", "name": "N", "email": "n@x.com",'
                  b' "phone": ' + b"9" * 5000 + b"}", "malformed", "payload"),
    "a lone surrogate": (
        lambda t: b'{"integration_key": "' + t.encode() + b'", "name": "\\ud800",'
                  b' "email": "s@x.com"}', "invalid", "name"),
    "a lone surrogate in a key": (
        lambda t: b'{"integration_key": "' + t.encode() + b'", "name": "N",'
                  b' "email": "s@x.com", "\\udc00": 1}', "invalid", "record"),
    "30,000 unknown keys": (
        lambda t: as_json({"integration_key": t, "name": "N", "email": "k@x.com",
                           **{f"unknown_{i}": i for i in range(30_000)}}),
        "invalid", "unknown_0"),
    "an array holding the key": (
        lambda t: as_json([{"integration_key": t, "name": "N", "email": "a@x.com"}]),
        "malformed", "payload"),
    "invalid UTF-8 with the key": (
        lambda t: b'{"integration_key": "' + t.encode() + b'", "name": "\xff\xfe"}',
        "malformed", "payload"),
    "truncated JSON with the key": (
        lambda t: b'{"integration_key": "' + t.encode() + b'", "name": "Trunc', "malformed",
        "payload"),
    "the key escaped inside a string": (
        lambda t: as_json([t.replace("_", "\\u005f")]).replace(b"\\\\u005f", b"\\u005f"),
        "malformed", "payload"),
    "NUL in name": (lambda t: as_json({"integration_key": t, "name": "A\u0000B",
                                       "email": "nul@x.com"}), "invalid", "name"),
    "NUL in notes": (lambda t: as_json({"integration_key": t, "name": "N", "email": "nul@x.com",
                                        "notes": "x\u0000"}), "invalid", "notes"),
    "NUL in tags": (lambda t: as_json({"integration_key": t, "name": "N", "email": "nul@x.com",
                                       "tags": ["ok", "b\u0000d"]}), "invalid", "tags.1"),
    "NUL in request_id": (lambda t: as_json({"integration_key": t, "name": "N",
                                             "email": "nul@x.com", "request_id": "r\u0000"}),
                          "invalid", "request_id"),
    "wrong types": (lambda t: as_json({"integration_key": t, "name": {"a": [1]},
                                       "email": ["x@y.com"], "tags": "vip"}), "invalid", "name"),
    "a key that is not a string": (lambda t: as_json({"integration_key": 12345, "name": "N",
                                                      "email": "w@x.com"}),
                                   "unauthorized", "integration_key"),
    "empty": (lambda t: b"", "malformed", "payload"),
}


def carried_text(value: dict[str, Any]) -> bytes:
    """Everything a dead letter carries, base64 payloads decoded."""
    out = json.dumps(value).encode()
    payload = value.get("payload")
    for blob in (payload, payload.get("head_base64") if isinstance(payload, dict) else None):
        if isinstance(blob, str):
            with contextlib.suppress(ValueError):
                out += base64.b64decode(blob, validate=True)
    return out


async def produce_at(bootstrap: str, values: list[bytes], key: bytes) -> list[tuple[int, int]]:
    """Produce in order under one key (one partition); the (partition, offset) of each."""
    producer = AIOKafkaProducer(bootstrap_servers=servers(bootstrap),
                                max_request_size=4 * 1024 * 1024)
    await producer.start()
    try:
        metas = [await producer.send_and_wait(INGEST, v, key=key) for v in values]
    finally:
        await producer.stop()
    return [(m.partition, m.offset) for m in metas]


@pytest.mark.parametrize("name", list(HOSTILE))
async def test_a_hostile_record_is_dead_lettered_once_and_its_neighbour_goes_through(
        pipeline: Pipeline, pool: Pool, key: stores.IssuedKey, name: str) -> None:
    make, reason, field = HOSTILE[name]
    bad, good = make(key.token), good_record(key)
    bootstrap = pipeline.settings.kafka_bootstrap_servers
    async with Watcher(bootstrap, INGEST_DLQ) as dlq, \
            Watcher(bootstrap, UPSERT_RESULTS) as results, Watcher(bootstrap, UPSERT) as commands:
        (bad_at, _) = await produce_at(bootstrap, [bad, as_json(good)], uuid.uuid4().bytes)

        def at_bad(v: Any) -> bool:
            return (v["source"]["partition"], v["source"]["offset"]) == bad_at
        (letter,) = await dlq.take(at_bad)
        (ok,) = await results.take(lambda v: v.get("request_id") == good["request_id"])
        await results.take(lambda v: v.get("request_id") == letter["request_id"])
        await asyncio.gather(dlq.drain(1.0), commands.drain(1.0), results.drain(0.5))

    assert ok["outcome"] == "created"
    assert letter["reason"] == reason, letter["errors"]
    assert field in [e["field"] for e in letter["errors"]], letter["errors"]
    assert len(dlq.records(at_bad)) == 1                      # exactly once, not per retry
    assert len(commands.records(lambda v: v["request_id"] == good["request_id"])) == 1
    rejected = results.records(lambda v: v.get("request_id") == letter["request_id"])
    assert [json.loads(r.value)["outcome"] for r in rejected] == ["rejected"]
    secret = key.token.encode()
    for record in dlq.records(at_bad) + rejected:
        assert secret not in record.value
        assert secret not in carried_text(json.loads(record.value))
        assert len(record.value) < 512 * 1024
    emails = {r["email"] for r in await pool.fetch(
        "SELECT email FROM clients WHERE store_id = $1", key.store_id)}
    assert emails == {good["email"]}                          # the bad one wrote nothing


class CapturingProducer:
    """Stands in for the producer to see exactly what a batch publishes."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | None, bytes | None]] = []

    async def send(self, topic: str, value: bytes, key: bytes | None = None,
                   headers: Any = None) -> "asyncio.Future[None]":
        self.sent.append((topic, key, value))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


async def test_a_redelivered_batch_publishes_the_very_same_messages(
        pool: Pool, key: stores.IssuedKey) -> None:
    """Defect 2: a retried batch republishes; its outputs must then be byte-identical (same key,
    same value) so that downstream deduplication by request id holds."""
    values = [as_json(good_record(key)), b"{broken", as_json({"integration_key": key.token,
                                                              "name": "No Contact"})]
    stamp = int(datetime(2026, 1, 2, tzinfo=UTC).timestamp() * 1000)
    records = [ConsumerRecord(topic=INGEST, partition=0, offset=i, timestamp=stamp,
                              timestamp_type=1, key=None, value=v, checksum=None,
                              serialized_key_size=0, serialized_value_size=len(v), headers=())
               for i, v in enumerate(values)]
    first, again = CapturingProducer(), CapturingProducer()
    await ingest_batch(pool, first, records)
    await asyncio.sleep(0.01)  # a later wall-clock time must not show in the outputs
    await ingest_batch(pool, again, records)
    assert sorted(first.sent) == sorted(again.sent)
    assert {t for t, _, _ in first.sent} == {UPSERT, INGEST_DLQ, UPSERT_RESULTS}
    command = next(json.loads(v) for t, _, v in first.sent if t == UPSERT and v)
    assert command["received_at"].startswith("2026-01-02")

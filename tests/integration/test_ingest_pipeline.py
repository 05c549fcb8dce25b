"""Ingest -> upsert -> outbox relay, on the real broker and database, through `clients run`'s
runner with the real services (issue: integration ingest and upsert resolution)."""

import base64
import uuid
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest

from schemas.events import ClientEvent
from schemas.upsert import UpsertCommand
from shared import stores
from shared.db import Pool
from shared.topics import EVENTS, INGEST, INGEST_DLQ, UPSERT, UPSERT_RESULTS
from tests.conftest import Pipeline
from tests.support.kafka_helpers import Watcher, produce


def record(key: stores.IssuedKey | str, **fields: Any) -> dict[str, Any]:
    token = key if isinstance(key, str) else key.token
    fields.setdefault("request_id", uuid.uuid4().hex)
    fields.setdefault("name", "Jane Doe")
    return {"integration_key": token, **fields}


async def ingest(p: Pipeline, values: list[Any], keys: list[str] | None = None) -> None:
    await produce(p.settings.kafka_bootstrap_servers, INGEST, values, keys=keys)


def by_request(*ids: str) -> Any:
    return lambda v: isinstance(v, dict) and v.get("request_id") in ids


async def live_clients(pool: Pool, store_id: UUID) -> list[dict[str, Any]]:
    rows = await pool.fetch("SELECT * FROM clients WHERE store_id = $1 AND deleted_at IS NULL",
                            store_id)
    return [dict(r) for r in rows]


async def test_the_duplicate_rule_one_row_and_duplicate_true(
        pipeline: Pipeline, pool: Pool, key: stores.IssuedKey) -> None:
    recs = [record(key, email="Jane.Doe@Example.com"), record(key, email=" JANE.DOE@example.com "),
            record(key, email="jane.doe@EXAMPLE.COM")]
    async with Watcher(pipeline.settings.kafka_bootstrap_servers, UPSERT_RESULTS) as results:
        for r in recs:  # one after another: the order of the outcomes is then known
            await ingest(pipeline, [r])
            await results.take(by_request(r["request_id"]))
        got = await results.take(by_request(*(r["request_id"] for r in recs)), count=3)
    assert [(g["outcome"], g["duplicate"]) for g in got] == \
        [("created", False), ("matched_email", True), ("matched_email", True)]
    assert len({g["client_id"] for g in got}) == 1
    assert all(g["store_id"] == str(key.store_id) for g in got)
    assert len(await live_clients(pool, key.store_id)) == 1


async def test_external_id_matching_and_attachment(pipeline: Pipeline, pool: Pool,
                                                   key: stores.IssuedKey) -> None:
    first = record(key, email="ext@shop.com")
    attach = record(key, email="EXT@shop.com", external_id="woo-77")
    by_id = record(key, email="changed@shop.com", external_id="woo-77")
    async with Watcher(pipeline.settings.kafka_bootstrap_servers, UPSERT_RESULTS) as results:
        outcomes = []
        for r in (first, attach, by_id):
            await ingest(pipeline, [r])
            (got,) = await results.take(by_request(r["request_id"]))
            outcomes.append((got["outcome"], got["client_id"]))
    assert [o for o, _ in outcomes] == ["created", "matched_email", "matched_external_id"]
    assert len({c for _, c in outcomes}) == 1
    (row,) = await live_clients(pool, key.store_id)
    assert row["external_ids"] == {str(key.id): "woo-77"}


async def test_same_email_in_two_stores_is_two_rows(pipeline: Pipeline, pool: Pool,
                                                    key: stores.IssuedKey) -> None:
    other = await stores.create_store(pool, "Sigma Labs")
    other_key = await stores.create_key(pool, other.id, "Woo")
    recs = [record(key, email="both@shop.com"), record(other_key, email="both@shop.com")]
    async with Watcher(pipeline.settings.kafka_bootstrap_servers, UPSERT_RESULTS) as results:
        await ingest(pipeline, recs)
        got = await results.take(by_request(*(r["request_id"] for r in recs)), count=2)
    assert [g["outcome"] for g in got] == ["created", "created"]
    assert {g["store_id"] for g in got} == {str(key.store_id), str(other.id)}


async def test_a_soft_deleted_client_is_created_again(pipeline: Pipeline, pool: Pool,
                                                      key: stores.IssuedKey) -> None:
    first, again = record(key, email="back@shop.com"), record(key, email="back@shop.com")
    async with Watcher(pipeline.settings.kafka_bootstrap_servers, UPSERT_RESULTS) as results:
        await ingest(pipeline, [first])
        (a,) = await results.take(by_request(first["request_id"]))
        await pool.execute("UPDATE clients SET deleted_at = now() WHERE id = $1",
                           UUID(a["client_id"]))
        await ingest(pipeline, [again])
        (b,) = await results.take(by_request(again["request_id"]))
    assert (a["outcome"], b["outcome"]) == ("created", "created")
    assert a["client_id"] != b["client_id"]


async def test_redelivered_or_repeated_requests_change_nothing_twice(
        pipeline: Pipeline, pool: Pool, key: stores.IssuedKey) -> None:
    r = record(key, email="once@shop.com")
    bootstrap = pipeline.settings.kafka_bootstrap_servers
    async with Watcher(bootstrap, UPSERT_RESULTS) as results, Watcher(bootstrap, EVENTS) as events:
        await ingest(pipeline, [r, r])
        await ingest(pipeline, [r])
        got = await results.take(by_request(r["request_id"]), count=3)
        (created,) = await events.take(
            lambda v: v["client"]["store_id"] == str(key.store_id), count=1)
        await events.drain(1.5)
    assert [g["outcome"] for g in got] == ["created"] * 3  # the same result every time
    assert len({g["client_id"] for g in got}) == 1
    assert len(await live_clients(pool, key.store_id)) == 1
    assert len(events.records(lambda v: v["client"]["store_id"] == str(key.store_id))) == 1
    assert created["type"] == "client.created"


async def test_events_carry_the_envelope_keyed_by_client_id(pipeline: Pipeline,
                                                            key: stores.IssuedKey) -> None:
    create = record(key, email="ev@shop.com", first_name="Ada", last_name="Lovelace",
                    name=None, phone="(415) 555-2671", tags=[" VIP ", "vip", "Net-30"],
                    type="Wholesale")
    update = record(key, email="ev@shop.com", company="Analytical Engines", external_id="a-1")
    nothing = record(key, email="EV@shop.com")
    bootstrap = pipeline.settings.kafka_bootstrap_servers
    mine = lambda v: v["client"]["store_id"] == str(key.store_id)  # noqa: E731
    async with Watcher(bootstrap, EVENTS) as events:
        await ingest(pipeline, [create])
        await events.take(mine)
        await ingest(pipeline, [update])
        await events.take(mine, count=2)
        await ingest(pipeline, [nothing])
        await events.drain(1.5)
    got = [ClientEvent.model_validate_json(r.value) for r in events.records(mine)]
    assert [e.type for e in got] == ["client.created", "client.updated"]
    assert len({e.id for e in got}) == 2
    c = got[0].client
    assert (c.name, c.first_name, c.last_name, c.email, c.phone, c.type, c.tags) == \
        ("Ada Lovelace", "Ada", "Lovelace", "ev@shop.com", "+14155552671", "wholesale",
         ["vip", "net-30"])
    assert (c.source_label, c.source_integration_key_id) == ("WooCommerce", key.id)
    assert got[1].client.company == "Analytical Engines"
    assert got[1].client.external_ids == {str(key.id): "a-1"}
    assert {r.key for r in events.records(mine)} == {str(c.id).encode()}


@pytest.mark.parametrize(("payload", "reason", "field"), [
    (b"{not json", "malformed", "payload"),
    (b"[1, 2]", "malformed", "payload"),
    ({"email": "a@b.com", "name": "No Key"}, "unauthorized", "integration_key"),
    ({"integration_key": "pck_int_forged", "email": "a@b.com", "name": "X"},
     "unauthorized", "integration_key"),
    ("VALID", "invalid", "email"),           # filled in below: bad email
    ("VALID-UNKNOWN", "invalid", "favourite_colour"),
    ("VALID-NO-NAME", "invalid", "name"),
    ("VALID-NO-CONTACT", "invalid", "email"),
    ("VALID-PHONE", "invalid", "phone"),
    ("VALID-STORE", "invalid", "store_id"),
])
async def test_every_dead_letter_reason_and_nothing_is_written(
        pipeline: Pipeline, pool: Pool, key: stores.IssuedKey, payload: Any, reason: str,
        field: str) -> None:
    request_id = uuid.uuid4().hex
    variants = {
        "VALID": {"email": "not-an-email"},
        "VALID-UNKNOWN": {"email": "c@shop.com", "favourite_colour": "teal"},
        "VALID-NO-NAME": {"email": "c@shop.com", "name": "  "},
        "VALID-NO-CONTACT": {"company": "Acme"},
        "VALID-PHONE": {"phone": "12"},
        "VALID-STORE": {"email": "c@shop.com", "store_id": str(uuid.uuid4())},
    }
    if isinstance(payload, str):
        payload = record(key, request_id=request_id, **variants[payload])
    elif isinstance(payload, dict):
        payload = {**payload, "request_id": request_id}
    good = record(key, email="neighbour@shop.com")
    bootstrap = pipeline.settings.kafka_bootstrap_servers
    async with Watcher(bootstrap, INGEST_DLQ) as dlq, Watcher(bootstrap, UPSERT_RESULTS) as res:
        # the bad record and a good one on the same partition: the good one still goes through
        await ingest(pipeline, [payload, good], keys=["same", "same"])
        match = (by_request(request_id) if not isinstance(payload, bytes)
                 else lambda v: v["source"]["topic"] == INGEST
                 and base64.b64decode(v["payload"]) == payload)
        if isinstance(payload, bytes) and payload.startswith(b"["):
            match = lambda v: v["payload"] == [1, 2]  # noqa: E731
        (letter,) = await dlq.take(match)
        (ok,) = await res.take(by_request(good["request_id"]))
        (rejected,) = await res.take(by_request(letter["request_id"]))
    assert letter["reason"] == reason
    assert field in [e["field"] for e in letter["errors"]]
    assert set(letter["source"]) == {"topic", "partition", "offset"}
    assert letter["rejected_at"]
    if isinstance(letter["payload"], dict) and "integration_key" in letter["payload"]:
        assert letter["payload"]["integration_key"] == "[redacted]"
    assert key.token not in str(letter)
    assert (rejected["outcome"], rejected["client_id"]) == ("rejected", None)
    assert rejected["errors"] == letter["errors"]
    assert ok["outcome"] == "created"
    rows = await live_clients(pool, key.store_id)
    assert [r["email"] for r in rows] == ["neighbour@shop.com"]  # only the good one


async def test_a_revoked_key_writes_nothing(pipeline: Pipeline, pool: Pool,
                                            key: stores.IssuedKey) -> None:
    await stores.revoke_key(pool, key.id)
    r = record(key, email="revoked@shop.com")
    async with Watcher(pipeline.settings.kafka_bootstrap_servers, INGEST_DLQ) as dlq:
        await ingest(pipeline, [r])
        (letter,) = await dlq.take(by_request(r["request_id"]))
    assert letter["reason"] == "unauthorized"
    assert await live_clients(pool, key.store_id) == []


async def test_default_request_id_is_topic_partition_offset(pipeline: Pipeline,
                                                            key: stores.IssuedKey) -> None:
    r = record(key, email="noid@shop.com")
    del r["request_id"]
    async with Watcher(pipeline.settings.kafka_bootstrap_servers, UPSERT_RESULTS) as results:
        await ingest(pipeline, [r])
        (got,) = await results.take(lambda v: v.get("store_id") == str(key.store_id))
    topic, partition, offset = got["request_id"].rsplit(":", 2)
    assert topic == INGEST
    assert int(partition) >= 0
    assert int(offset) >= 0


async def test_a_command_the_database_refuses_never_stops_the_upsert_partition(
        pipeline: Pipeline, pool: Pool, key: stores.IssuedKey) -> None:
    def cmd(store_id: UUID, email: str) -> dict[str, Any]:
        return UpsertCommand(request_id=uuid.uuid4().hex, store_id=store_id, email=email,
                             email_key=email, name="N", received_at=datetime.now(UTC),
                             ).model_dump(mode="json")
    orphan = cmd(uuid.uuid4(), "orphan@shop.com")   # its store does not exist
    good = cmd(key.store_id, "after@shop.com")
    bootstrap = pipeline.settings.kafka_bootstrap_servers
    async with Watcher(bootstrap, UPSERT_RESULTS) as results:
        await produce(bootstrap, UPSERT, [orphan, b"{garbage", good], partitions=[0, 0, 0])
        (refused,) = await results.take(by_request(orphan["request_id"]))
        (unreadable,) = await results.take(lambda v: v.get("request_id", "").startswith(UPSERT))
        (ok,) = await results.take(by_request(good["request_id"]))
    assert (refused["outcome"], refused["errors"][0]["field"]) == ("rejected", "store_id")
    assert unreadable["outcome"] == "rejected"
    assert ok["outcome"] == "created"
    assert [r["email"] for r in await live_clients(pool, key.store_id)] == ["after@shop.com"]


async def test_a_huge_bad_record_gets_a_truncated_dead_letter_and_stops_nothing(
        pipeline: Pipeline, pool: Pool, key: stores.IssuedKey) -> None:
    blob = b"\xff" * 900_000                       # not JSON, near Kafka's 1 MB limit
    good = record(key, email="beside-the-blob@shop.com")
    bootstrap = pipeline.settings.kafka_bootstrap_servers
    async with Watcher(bootstrap, INGEST_DLQ) as dlq, Watcher(bootstrap, UPSERT_RESULTS) as res:
        await ingest(pipeline, [blob, good], keys=["same", "same"])
        (letter,) = await dlq.take(lambda v: isinstance(v["payload"], dict)
                                   and v["payload"].get("size") == len(blob))
        (ok,) = await res.take(by_request(good["request_id"]))
    assert letter["reason"] == "malformed"
    assert letter["payload"]["truncated"] is True
    assert base64.b64decode(letter["payload"]["head_base64"]) == blob[:256 * 1024]
    assert ok["outcome"] == "created"

"""A batch reaches its handler on the event loop: no thread hop on a record's path."""

from typing import Any

import anyio.to_thread
import pytest
from faststream.kafka import KafkaBroker, KafkaRouter, TestKafkaBroker

from shared.broker import Records, raw_batch_subscriber


async def test_the_raw_records_reach_the_handler_without_a_worker_thread(
        monkeypatch: pytest.MonkeyPatch) -> None:
    router = KafkaRouter()
    got: list[Records] = []

    @raw_batch_subscriber(router, "clients.ingest.v1", group="g", max_records=10)
    async def handle(records: Records) -> None:
        got.append(records)

    def no_thread(*_: Any, **__: Any) -> None:
        raise AssertionError("a worker thread on the path of a batch")
    # FastStream resolves a `Context` parameter (such as a `KafkaMessage`) with a synchronous
    # function that fast_depends runs in a worker thread: two thread hops per batch.
    monkeypatch.setattr(anyio.to_thread, "run_sync", no_thread)
    broker = KafkaBroker()
    broker.include_router(router)
    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish_batch(b"first", b"second", topic="clients.ingest.v1")
    assert [[r.value for r in records] for records in got] == [[b"first", b"second"]]

"""Small real-Kafka helpers for tests: an upstream producer and committed-offset reads."""

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from shared.settings import servers


async def produce(bootstrap: str, topic: str, values: list[Any],
                  keys: list[str] | None = None, partitions: list[int] | None = None) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=servers(bootstrap))
    await producer.start()
    try:
        for i, value in enumerate(values):
            raw = value if isinstance(value, bytes) else json.dumps(value).encode()
            key = keys[i].encode() if keys else None
            partition = partitions[i] if partitions else None
            await producer.send_and_wait(topic, raw, key=key, partition=partition)
    finally:
        await producer.stop()


@asynccontextmanager
async def admin_client(bootstrap: str) -> AsyncIterator[AIOKafkaAdminClient]:
    admin = AIOKafkaAdminClient(bootstrap_servers=servers(bootstrap))
    await admin.start()
    try:
        yield admin
    finally:
        await admin.close()


async def committed_total(bootstrap: str, group: str, topic: str) -> int:
    """Sum of the group's committed offsets on `topic`: the number of records it has finished."""
    async with admin_client(bootstrap) as admin:
        offsets = await admin.list_consumer_group_offsets(group)
    return sum(meta.offset for tp, meta in offsets.items() if tp.topic == topic and meta.offset > 0)


async def consumed_to_end(bootstrap: str, group: str, topic: str, within: float,
                          interval: float = 0.05) -> None:
    """Wait until `group` has committed every record `topic` holds now (a consumer here commits
    a batch only after its effects): TimeoutError after `within` seconds. Asks the broker, so the
    waiting stays off the database being measured."""
    end = await end_offsets(bootstrap, topic)
    async with asyncio.timeout(within):
        while True:
            if await committed_total(bootstrap, group, topic) >= end:
                return
            await asyncio.sleep(interval)


async def partitions_of(bootstrap: str, topic: str, within: float = 30.0
                        ) -> list[TopicPartition]:
    """The topic's partitions. Right after the topic is created, a broker that has not caught
    up with the metadata yet describes it with none: ask again until it has some."""
    async with admin_client(bootstrap) as admin, asyncio.timeout(within):
        while True:
            (described,) = await admin.describe_topics([topic])
            if described["partitions"]:
                return sorted(TopicPartition(topic, p["partition"])
                              for p in described["partitions"])
            await asyncio.sleep(0.1)


class Watcher:
    """Reads a topic from its end at the time of entering: what a test's actions produce."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.consumer = AIOKafkaConsumer(bootstrap_servers=servers(bootstrap),
                                         enable_auto_commit=False)
        self.seen: list[ConsumerRecord[bytes, bytes]] = []

    async def __aenter__(self) -> "Watcher":
        await self.consumer.start()
        tps = await partitions_of(self.bootstrap, self.topic)
        self.consumer.assign(tps)
        await self.consumer.seek_to_end(*tps)
        for tp in tps:  # resolve the positions now, not lazily after the test has produced
            await self.consumer.position(tp)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.consumer.stop()

    async def take(self, match: Callable[[Any], bool], count: int = 1,
                   within: float = 60.0) -> list[Any]:
        """The first `count` JSON values that `match`; fail after `within` seconds."""
        found: list[Any] = []
        async with asyncio.timeout(within):
            while True:
                found = [v for v in (json.loads(r.value or b"null") for r in self.seen)
                         if match(v)]
                if len(found) >= count:
                    return found[:count]
                batches = await self.consumer.getmany(timeout_ms=200)
                for records in batches.values():
                    self.seen.extend(records)

    def records(self, match: Callable[[Any], bool]) -> list[ConsumerRecord[bytes, bytes]]:
        return [r for r in self.seen if match(json.loads(r.value or b"null"))]

    async def drain(self, seconds: float = 1.0) -> None:
        """Read whatever arrives in the next `seconds` (to assert that something did not)."""
        async with asyncio.timeout(seconds + 5):
            end = asyncio.get_running_loop().time() + seconds
            while asyncio.get_running_loop().time() < end:
                for records in (await self.consumer.getmany(timeout_ms=100)).values():
                    self.seen.extend(records)


async def end_offsets(bootstrap: str, topic: str) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=servers(bootstrap))
    await consumer.start()
    try:
        tps = await partitions_of(bootstrap, topic)
        return sum((await consumer.end_offsets(tps)).values())
    finally:
        await consumer.stop()


async def fast_forward(bootstrap: str, group: str, topics: list[str]) -> None:
    """Commit `group` at the topics' current ends, so it starts from now, not from history."""
    consumer = AIOKafkaConsumer(bootstrap_servers=servers(bootstrap), group_id=group,
                                enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [tp for t in topics for tp in await partitions_of(bootstrap, t)]
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        await consumer.commit(dict(ends))
    finally:
        await consumer.stop()


async def group_members(bootstrap: str, group: str) -> int:
    """How many consumers a group has once it is stable (0 while it rebalances)."""
    async with admin_client(bootstrap) as admin:
        (described,) = await admin.describe_consumer_groups([group])
    (group_info,) = described.to_object()["groups"]
    return len(group_info["members"]) if group_info["state"] == "Stable" else 0

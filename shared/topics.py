"""The project's Kafka topics and their idempotent provisioning.

Automatic topic creation is off on our brokers: every topic is created here with an explicit
partition count. Provisioning creates what is missing, grows a topic that has fewer partitions than
configured (Kafka cannot shrink one), and leaves everything else alone, so it is safe to run on
every start and from several processes at once.
"""

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass

import structlog
from aiokafka.admin import AIOKafkaAdminClient, NewPartitions, NewTopic
from aiokafka.errors import for_code

from shared.settings import Settings

log = structlog.get_logger(__name__)

INGEST = "clients.ingest.v1"
INGEST_DLQ = "clients.ingest.dlq.v1"
UPSERT = "clients.upsert.v1"
UPSERT_RESULTS = "clients.upsert.results.v1"
EVENTS = "clients.events.v1"
IMPORT_CHUNKS = "clients.import.chunks.v1"
IMPORT_PROGRESS = "clients.import.progress.v1"
MESSAGES_OUTBOUND = "messages.outbound.v1"
MESSAGES_EVENTS = "messages.events.v1"
DELIVERY_CALLBACKS = "delivery.callbacks.v1"
INBOX_COMMANDS = "inbox.commands.v1"
WEBHOOK_EVENTS = "webhooks.events.v1"

HIGH_VOLUME = (INGEST, UPSERT, UPSERT_RESULTS, EVENTS, IMPORT_CHUNKS,
               MESSAGES_OUTBOUND, MESSAGES_EVENTS, DELIVERY_CALLBACKS)
LOW_VOLUME = (INGEST_DLQ, IMPORT_PROGRESS, INBOX_COMMANDS, WEBHOOK_EVENTS)

_TOPIC_ALREADY_EXISTS = 36


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int


def project_topics(settings: Settings) -> list[TopicSpec]:
    return [TopicSpec(t, settings.topic_partitions) for t in HIGH_VOLUME] + [
        TopicSpec(t, settings.topic_partitions_low) for t in LOW_VOLUME
    ]


async def ensure_topics(bootstrap_servers: str, specs: Iterable[TopicSpec]) -> dict[str, int]:
    """Create or grow the topics; return each one's partition count afterwards."""
    wanted = {s.name: s.partitions for s in specs}
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        existing = await _partition_counts(admin, list(wanted))
        missing = [NewTopic(name, n, 1) for name, n in wanted.items() if name not in existing]
        if missing:
            response = await admin.create_topics(missing)
            for name, code, *_ in response.topic_errors:
                if code not in (0, _TOPIC_ALREADY_EXISTS):
                    raise for_code(code)(f"could not create topic {name}")
            log.info("topics created", topics=[t.name for t in missing])
        grow = {name: NewPartitions(n) for name, n in wanted.items()
                if name in existing and existing[name] < n}
        if grow:
            await admin.create_partitions(grow)
            log.info("topics grown", topics={k: v.total_count for k, v in grow.items()})
        return await _settled_counts(admin, wanted)
    finally:
        await admin.close()


async def _settled_counts(admin: AIOKafkaAdminClient, wanted: dict[str, int],
                          within_s: float = 30.0) -> dict[str, int]:
    """Metadata lags a creation or a growth: wait until every topic shows what was asked."""
    async with asyncio.timeout(within_s):
        while True:
            counts = await _partition_counts(admin, list(wanted))
            if all(counts.get(name, 0) >= n for name, n in wanted.items()):
                return counts
            await asyncio.sleep(0.05)


async def _partition_counts(admin: AIOKafkaAdminClient, names: list[str]) -> dict[str, int]:
    described = await admin.describe_topics(names)
    return {t["topic"]: len(t["partitions"]) for t in described if t["error_code"] == 0}

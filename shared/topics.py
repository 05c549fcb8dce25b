"""The project's Kafka topics and their idempotent provisioning.

Automatic topic creation is off on our brokers: every topic is created here with an explicit
partition count. Provisioning creates what is missing, grows a topic that has fewer partitions than
configured (Kafka cannot shrink one), sets the topic configs we rely on, and leaves everything else
alone, so it is safe to run on every start and from several processes at once.

Replication follows the cluster: factor min(3, brokers), and with 3 replicas min.insync.replicas
2, so that an acks=all write survives the loss of any one broker. (The factor of an existing topic
is not changed here: that is a reassignment, an operator's decision.) The number of brokers is the
larger of what one broker's metadata shows and how many KAFKA_BOOTSTRAP_SERVERS names: a node of a
cluster still starting may not have seen the others register yet, and topics created on its word
were created with 2 replicas instead of 3 (seen in the three-node test). While fewer brokers are
registered than the factor, the controller refuses the creation; it is asked again for a minute,
then the error says so: never silently fewer replicas.
"""

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import structlog
from aiokafka.admin import AIOKafkaAdminClient, NewPartitions, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import for_code

from shared.settings import Settings, servers

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
COMMANDS = "clients.commands.v1"
COMMAND_RESULTS = "clients.commands.results.v1"
ATTESTATIONS = "clients.attestations.v1"
ATTESTATIONS_DLQ = "clients.attestations.dlq.v1"
ORDERS = "orders.events.v1"
ORDERS_DLQ = "orders.events.dlq.v1"

HIGH_VOLUME = (INGEST, UPSERT, UPSERT_RESULTS, EVENTS, IMPORT_CHUNKS,
               MESSAGES_OUTBOUND, MESSAGES_EVENTS, DELIVERY_CALLBACKS, COMMANDS, COMMAND_RESULTS,
               ORDERS)
LOW_VOLUME = (INGEST_DLQ, IMPORT_PROGRESS, INBOX_COMMANDS, WEBHOOK_EVENTS, ATTESTATIONS,
              ATTESTATIONS_DLQ, ORDERS_DLQ)

# Topics whose records hold a person's data (names, emails, phones, addresses, message bodies,
# IPs): they keep records PII_TOPIC_RETENTION_MS (default: the erasure cool-off), so no copy
# outlives an erasure by more than that. The rest carry ids, counts and states only: import
# progress, and webhook endpoint news (an endpoint's URL is the store's, not a person's).
PII = (INGEST, INGEST_DLQ, UPSERT, UPSERT_RESULTS, EVENTS, IMPORT_CHUNKS, MESSAGES_OUTBOUND,
       MESSAGES_EVENTS, DELIVERY_CALLBACKS, INBOX_COMMANDS, COMMANDS, COMMAND_RESULTS,
       ATTESTATIONS, ATTESTATIONS_DLQ, ORDERS, ORDERS_DLQ)

# The ingest topic is stamped by the broker: a record's timestamp is when we received it, the
# same on every redelivery, so a re-processed batch publishes the very same messages.
CONFIGS: dict[str, dict[str, str]] = {INGEST: {"message.timestamp.type": "LogAppendTime"}}

_TOPIC_ALREADY_EXISTS = 36
_INVALID_REPLICATION_FACTOR = 38
_DYNAMIC_TOPIC_CONFIG = 1


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    configs: Mapping[str, str] = field(default_factory=dict)


def topic_configs(settings: Settings, topic: str) -> dict[str, str]:
    """What a project topic is configured with. A PII topic's segments roll at least daily
    (at most every retention), so that retention can drop a whole segment on time: Kafka
    deletes segments, not records, and the default segment lives a week."""
    configs = dict(CONFIGS.get(topic, {}))
    if topic in PII:
        retention = settings.pii_retention_ms
        configs.update({"retention.ms": str(retention),
                        "segment.ms": str(min(retention, 86_400_000))})
    return configs


def project_topics(settings: Settings) -> list[TopicSpec]:
    return [TopicSpec(t, settings.topic_partitions, topic_configs(settings, t))
            for t in HIGH_VOLUME] + [
        TopicSpec(t, settings.topic_partitions_low, topic_configs(settings, t))
        for t in LOW_VOLUME]


def replication_for(brokers: int) -> tuple[int, dict[str, str]]:
    """Replication factor and the configs that go with it, for a cluster of `brokers`."""
    factor = min(3, max(brokers, 1))
    return factor, ({"min.insync.replicas": "2"} if factor >= 3 else {})


async def ensure_topics(bootstrap_servers: str, specs: Iterable[TopicSpec],
                        registration_wait_s: float = 60.0) -> dict[str, int]:
    """Create or grow the topics; return each one's partition count afterwards."""
    specs = list(specs)
    wanted = {s.name: s.partitions for s in specs}
    admin = AIOKafkaAdminClient(bootstrap_servers=servers(bootstrap_servers))
    await admin.start()
    try:
        seen = len((await admin.describe_cluster())["brokers"])
        factor, replica_configs = replication_for(max(seen, len(set(servers(bootstrap_servers)))))
        configs = {s.name: {**replica_configs, **s.configs} for s in specs}
        existing = await _partition_counts(admin, list(wanted))
        missing = [NewTopic(name, n, factor, topic_configs=configs[name])
                   for name, n in wanted.items() if name not in existing]
        if missing:
            await _create(admin, missing, factor, registration_wait_s)
            log.info("topics created", topics=[t.name for t in missing], replication=factor)
        grow = {name: NewPartitions(n) for name, n in wanted.items()
                if name in existing and existing[name] < n}
        if grow:
            await admin.create_partitions(grow)
            log.info("topics grown", topics={k: v.total_count for k, v in grow.items()})
        await _set_configs(admin, {name: configs[name] for name in existing})
        return await _settled_counts(admin, wanted)
    finally:
        await admin.close()


async def _create(admin: AIOKafkaAdminClient, missing: list[NewTopic], factor: int,
                  within_s: float) -> None:
    """Create the topics, asking again while the controller has fewer than `factor` brokers
    registered (INVALID_REPLICATION_FACTOR)."""
    deadline = asyncio.get_running_loop().time() + within_s
    while True:
        response = await admin.create_topics(missing)
        waiting = set()
        for name, code, *_ in response.topic_errors:
            if code == _INVALID_REPLICATION_FACTOR:
                waiting.add(name)
            elif code not in (0, _TOPIC_ALREADY_EXISTS):
                raise for_code(code)(f"could not create topic {name}")
        if not waiting:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise for_code(_INVALID_REPLICATION_FACTOR)(
                f"could not create {sorted(waiting)} with {factor} replicas: fewer brokers "
                f"registered after {within_s:.0f} s")
        missing = [t for t in missing if t.name in waiting]
        await asyncio.sleep(0.5)


async def _set_configs(admin: AIOKafkaAdminClient, wanted: dict[str, dict[str, str]]) -> None:
    """Existing topics get the configs we rely on. AlterConfigs replaces a topic's dynamic
    configs as a whole, so it is sent only where they differ from what we want."""
    names = [n for n, c in wanted.items() if c]
    if not names:
        return
    described = await admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, n) for n in names])
    current = {res[3]: {c[0]: c[1] for c in res[4] if c[3] == _DYNAMIC_TOPIC_CONFIG}
               for response in described for res in response.resources}
    stale = [n for n in names if current.get(n) != wanted[n]]
    if stale:
        await admin.alter_configs(
            [ConfigResource(ConfigResourceType.TOPIC, n, wanted[n]) for n in stale])
        log.info("topic configs set", topics=stale)


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

import pytest
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError

from shared.settings import Settings
from shared.topics import (
    EVENTS,
    HIGH_VOLUME,
    INGEST,
    PII,
    TopicSpec,
    ensure_topics,
    project_topics,
)
from tests.conftest import unique
from tests.support.kafka_helpers import admin_client, partitions_of


def test_high_volume_topics_get_at_least_six_partitions(settings: Settings) -> None:
    specs = {s.name: s.partitions for s in project_topics(settings)}
    assert all(specs[name] >= 6 for name in HIGH_VOLUME)
    assert {"clients.ingest.v1", "clients.ingest.dlq.v1", "clients.events.v1",
            "delivery.callbacks.v1", "inbox.commands.v1"} <= set(specs)


async def test_provisioning_creates_then_is_idempotent_then_grows(settings: Settings) -> None:
    bootstrap = settings.kafka_bootstrap_servers
    a, b = unique("test.topics"), unique("test.topics")
    assert await ensure_topics(bootstrap, [TopicSpec(a, 6), TopicSpec(b, 2)]) == {a: 6, b: 2}
    assert await ensure_topics(bootstrap, [TopicSpec(a, 6), TopicSpec(b, 2)]) == {a: 6, b: 2}
    assert await ensure_topics(bootstrap, [TopicSpec(b, 4)]) == {b: 4}
    assert len(await partitions_of(bootstrap, b)) == 4
    # Kafka cannot shrink a topic: asking for fewer leaves it as it is.
    assert await ensure_topics(bootstrap, [TopicSpec(a, 3)]) == {a: 6}


async def test_project_topics_exist_with_their_partitions(settings: Settings) -> None:
    counts = await ensure_topics(settings.kafka_bootstrap_servers, project_topics(settings))
    assert counts == {s.name: s.partitions for s in project_topics(settings)}


async def test_a_topic_is_never_created_with_fewer_replicas_than_the_named_brokers(
        settings: Settings) -> None:
    """Two brokers named, one there (as while a cluster starts): the controller refuses a
    factor of 2, creation is asked again, then fails saying so; no under-replicated topic."""
    name = unique("test.topics")
    two = f"{settings.kafka_bootstrap_servers},127.0.0.1:1"
    with pytest.raises(KafkaError, match="with 2 replicas"):
        await ensure_topics(two, [TopicSpec(name, 1)], registration_wait_s=1.0)
    async with admin_client(settings.kafka_bootstrap_servers) as admin:
        assert name not in await admin.list_topics()


async def _topic_configs(settings: Settings, names: list[str]) -> dict[str, dict[str, str]]:
    async with admin_client(settings.kafka_bootstrap_servers) as admin:
        described = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, n) for n in names])
    # only what is set on the topic itself (source 1: DYNAMIC_TOPIC_CONFIG)
    return {res[3]: {c[0]: c[1] for c in res[4] if c[3] == 1}
            for r in described for res in r.resources}


async def test_topics_with_personal_data_keep_records_no_longer_than_the_retention(
        settings: Settings) -> None:
    """PII_TOPIC_RETENTION_MS (default: the erasure cool-off) on every topic that carries a
    person's data, with segments that roll daily so that retention can act on time; an
    existing topic is brought to it on the next start; the others keep the broker's."""
    await ensure_topics(settings.kafka_bootstrap_servers, project_topics(settings))
    every = [s.name for s in project_topics(settings)]
    configs = await _topic_configs(settings, every)
    week = str(int(settings.erasure_cool_off_s * 1000))
    assert settings.pii_retention_ms == int(week)
    for name in PII:
        assert (configs[name]["retention.ms"], configs[name]["segment.ms"]) == (week,
                                                                                "86400000")
    for name in set(every) - set(PII):
        assert "retention.ms" not in configs[name]  # the broker's

    shorter = settings.model_copy(update={"pii_topic_retention_ms": 3_600_000})
    await ensure_topics(settings.kafka_bootstrap_servers, project_topics(shorter))
    try:
        changed = await _topic_configs(settings, [INGEST, EVENTS])
        assert changed[INGEST]["retention.ms"] == "3600000"
        assert changed[INGEST]["segment.ms"] == "3600000"
        assert changed[INGEST]["message.timestamp.type"] == "LogAppendTime"  # kept
        assert changed[EVENTS]["retention.ms"] == "3600000"
    finally:
        await ensure_topics(settings.kafka_bootstrap_servers, project_topics(settings))

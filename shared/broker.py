"""The Kafka broker factory. Every subscriber chooses its ack policy explicitly."""

from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from prometheus_client import CollectorRegistry

from shared.settings import Settings


def create_broker(settings: Settings, registry: CollectorRegistry) -> KafkaBroker:
    return KafkaBroker(
        settings.kafka_bootstrap_servers,
        client_id="clients-pipeline",
        # The default for any subscriber that forgets to choose: commit after the handler
        # succeeded, seek back (redeliver) when it raised. Never ACK_FIRST (auto-commit).
        ack_policy=AckPolicy.NACK_ON_ERROR,
        allow_auto_create_topics=False,
        # Waits this long on stop for in-flight handlers, so their offsets get committed.
        graceful_timeout=settings.graceful_timeout_s,
        middlewares=[KafkaPrometheusMiddleware(registry=registry, app_name="clients")],
        enable_idempotence=True,
        linger_ms=5,
    )

"""Consuming: the FastStream broker and the batch subscriber every consumer uses.

Every subscriber chooses its ack policy explicitly; the broker's default is NACK_ON_ERROR.
Publishing is shared/publish.py's (one aiokafka producer per process).
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from itertools import chain
from typing import Any, TypeVar

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRecord
from faststream import AckPolicy
from faststream.exceptions import NackMessage
from faststream.kafka import KafkaBroker, KafkaRouter
from faststream.kafka.annotations import KafkaMessage
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from faststream.kafka.subscriber.usecase import BatchSubscriber
from prometheus_client import CollectorRegistry
from pydantic import BaseModel, ValidationError

from shared.logging import route_faststream_logs
from shared.outage import Outage
from shared.settings import Settings, servers


def create_broker(settings: Settings, registry: CollectorRegistry) -> KafkaBroker:
    route_faststream_logs()
    return KafkaBroker(
        servers(settings.kafka_bootstrap_servers),
        client_id="clients-pipeline",
        # Not consumer_only: its admin client is what /healthz pings.
        # The default for any subscriber that forgets to choose: commit after the handler
        # succeeded, seek back (redeliver) when it raised. Never ACK_FIRST (auto-commit).
        ack_policy=AckPolicy.NACK_ON_ERROR,
        allow_auto_create_topics=False,
        # Waits this long on stop for in-flight handlers, so their offsets get committed.
        graceful_timeout=settings.graceful_timeout_s,
        middlewares=[KafkaPrometheusMiddleware(registry=registry, app_name="clients")],
        # FastStream's per-message access log ("Received", "Processed"): DEBUG, not INFO.
        # Our handlers log what matters, as structured JSON; so does FastStream's own logger,
        # through the standard library into our formatter (shared/logging.py).
        logger=logging.getLogger("faststream"),
        log_level=logging.DEBUG,
    )


async def _raw_records(msg: KafkaMessage) -> "Records":
    """A FastStream decoder that hands the handler the batch's raw records as its body.

    Not a `msg: KafkaMessage` parameter: FastStream resolves such a `Context` parameter with a
    synchronous function, which fast_depends runs in a worker thread, two thread hops per batch.
    With the records as the body, a 10-concurrent `bench.http` run went from 129 / 154 to 142 /
    181 req/s and 50-concurrent from 317 / 308 to 343 / 381 (alternating pairs); most batches on
    that path hold one or two records, so each hop was paid per request.
    """
    raw = msg.raw_message
    return tuple(raw) if isinstance(raw, tuple | list) else (raw,)


Records = tuple["ConsumerRecord[bytes, bytes]", ...]


class PromptBatchSubscriber(BatchSubscriber):
    """FastStream's batch subscriber without its idle sleep. After a poll that came back empty
    it sleeps `batch_timeout_ms` before polling again (faststream/kafka/subscriber/usecase.py),
    so a record reaching an idle consumer waited up to those 200 ms at every hop of the pipeline.
    aiokafka's getmany() already waits for data and returns as soon as a record is fetched: an
    empty answer simply polls again, and nothing sleeps on the path of a record."""

    __slots__ = ()

    async def get_msg(self, consumer: AIOKafkaConsumer) -> Records:
        batches = await consumer.getmany(timeout_ms=self.batch_timeout_ms,
                                         max_records=self.max_records)
        return tuple(chain(*batches.values()))


def raw_batch_subscriber(router: KafkaRouter, topic: str, *, group: str, max_records: int
                         ) -> Callable[[Callable[[Records], Awaitable[None]]], object]:
    """Subscribe `handler(records)` to batches of raw records, the way every consumer here does.

    Raw records: a payload that is not valid must reach the handler (to be answered with a
    reason), not fail a parser. NACK_ON_ERROR: the offsets are committed once the handler
    returned, i.e. after its effects are durable and its outputs acked. A handler raises only on
    an outage (handlers answer bad input themselves): the batch is then nacked, so it comes
    again, after a backoff that grows while the outage lasts (shared/outage.py), instead of a
    hot loop of tracebacks. A new group starts from the earliest record, so nothing published
    before a first deployment is skipped.
    """
    def register(handler: Callable[[Records], Awaitable[None]]) -> object:
        outage = Outage(f"{group} on {topic}")

        subscriber = router.subscriber(topic, group_id=group, batch=True,
                                       max_records=max_records, auto_offset_reset="earliest",
                                       ack_policy=AckPolicy.NACK_ON_ERROR, decoder=_raw_records)
        if not isinstance(subscriber, BatchSubscriber):  # a FastStream upgrade changed it
            raise TypeError(f"a batch subscriber was expected, not {type(subscriber)}")
        subscriber.__class__ = PromptBatchSubscriber

        @subscriber
        async def consume(records: Any) -> None:
            try:
                await handler(records)
            except Exception as e:
                await asyncio.sleep(outage.failed(e))
                raise NackMessage() from e  # seek back, quietly: the outage is logged above
            outage.recovered()
        return consume
    return register


M = TypeVar("M", bound=BaseModel)
log = structlog.get_logger(__name__)


def decode_records(model: type[M], records: Records, service: str) -> list[tuple[M, str]]:
    """The valid payloads of a raw batch, each with its `topic:partition:offset`. An invalid
    one is logged with its reason and skipped: it never stops the partition."""
    out = []
    for r in records:
        where = f"{r.topic}:{r.partition}:{r.offset}"
        try:
            out.append((model.model_validate_json(r.value or b""), where))
        except ValidationError as e:
            log.error("invalid message skipped", service=service, at=where,
                      errors=e.errors(include_url=False, include_input=False))
    return out

"""Thin Kafka handlers: take the raw batch, bind log context, call the logic."""

import structlog
from faststream import AckPolicy
from faststream.kafka import KafkaRouter
from faststream.kafka.annotations import KafkaMessage

from services.ingest.logic import ingest_batch
from shared.broker import skip_body
from shared.resources import Deps
from shared.topics import INGEST

GROUP = "ingest"


def router(deps: Deps) -> KafkaRouter:
    r = KafkaRouter()

    # Raw records: a payload that is not JSON must reach the dead-letter topic, not fail a
    # parser. NACK_ON_ERROR: offsets are committed after every output is acked; only an
    # infrastructure failure (database, broker) raises, and the batch is then redelivered.
    @r.subscriber(INGEST, group_id=deps.settings.group_prefix + GROUP, batch=True,
                  max_records=deps.settings.ingest_batch_size, auto_offset_reset="earliest",
                  ack_policy=AckPolicy.NACK_ON_ERROR, decoder=skip_body)
    async def on_ingest(msg: KafkaMessage) -> None:
        records = msg.raw_message if isinstance(msg.raw_message, tuple) else (msg.raw_message,)
        with structlog.contextvars.bound_contextvars(service="ingest", records=len(records)):
            await ingest_batch(deps.pool, deps.producer, records)

    return r

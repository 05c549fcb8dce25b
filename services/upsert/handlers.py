"""Thin Kafka handlers: take the raw batch, bind log context, call the logic."""

import structlog
from faststream import AckPolicy
from faststream.kafka import KafkaRouter
from faststream.kafka.annotations import KafkaMessage

from services.upsert.logic import upsert_batch
from shared.broker import skip_body
from shared.resources import Deps
from shared.topics import UPSERT

GROUP = "upsert"


def router(deps: Deps) -> KafkaRouter:
    r = KafkaRouter()

    # NACK_ON_ERROR: the offset is committed after the resolver's transaction committed and the
    # results were acked; a database failure raises and the batch is redelivered, which the
    # recorded request ids make harmless.
    @r.subscriber(UPSERT, group_id=deps.settings.group_prefix + GROUP, batch=True,
                  max_records=deps.settings.upsert_batch_size, auto_offset_reset="earliest",
                  ack_policy=AckPolicy.NACK_ON_ERROR, decoder=skip_body)
    async def on_upsert(msg: KafkaMessage) -> None:
        records = msg.raw_message if isinstance(msg.raw_message, tuple) else (msg.raw_message,)
        with structlog.contextvars.bound_contextvars(service="upsert", records=len(records)):
            await upsert_batch(deps.pool, deps.producer, records)

    return r

"""Thin Kafka handlers: take the raw batch, bind log context, call the logic."""

import structlog
from faststream.kafka import KafkaRouter

from services.upsert.logic import upsert_batch
from shared.broker import Records, raw_batch_subscriber
from shared.resources import Deps
from shared.topics import UPSERT

GROUP = "upsert"


def router(deps: Deps) -> KafkaRouter:
    r = KafkaRouter()

    # The resolver's transaction commits and the results are acked before the offset is: a
    # redelivered batch is harmless, as the recorded touches answer it.
    @raw_batch_subscriber(r, UPSERT, group=deps.settings.group_prefix + GROUP,
                          max_records=deps.settings.upsert_batch_size)
    async def on_upsert(records: Records) -> None:
        with structlog.contextvars.bound_contextvars(service="upsert", records=len(records)):
            await upsert_batch(deps.pool, deps.producer, records)

    return r

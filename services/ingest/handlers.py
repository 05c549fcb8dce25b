"""Thin Kafka handlers: take the raw batch, bind log context, call the logic."""

import structlog
from faststream.kafka import KafkaRouter

from services.ingest.logic import ingest_batch
from shared.broker import Records, raw_batch_subscriber
from shared.resources import Deps
from shared.topics import INGEST

GROUP = "ingest"


def router(deps: Deps) -> KafkaRouter:
    r = KafkaRouter()

    @raw_batch_subscriber(r, INGEST, group=deps.settings.group_prefix + GROUP,
                          max_records=deps.settings.ingest_batch_size)
    async def on_ingest(records: Records) -> None:
        with structlog.contextvars.bound_contextvars(service="ingest", records=len(records)):
            await ingest_batch(deps.pool, deps.producer, records)

    return r

"""Thin Kafka handler: take the raw batch, bind log context, call the logic."""

import structlog
from faststream.kafka import KafkaRouter

from services.attestations.logic import attestations_batch
from shared.broker import Records, raw_batch_subscriber
from shared.resources import Deps
from shared.topics import ATTESTATIONS

GROUP = "attestations"


def router(deps: Deps) -> KafkaRouter:
    r = KafkaRouter()

    # The attestations commit before their dead letters are published, and both before the
    # offset: a redelivered capture finds its row (capture id) and records nothing twice.
    @raw_batch_subscriber(r, ATTESTATIONS, group=deps.settings.group_prefix + GROUP,
                          max_records=deps.settings.commands_batch_size)
    async def on_captures(records: Records) -> None:
        with structlog.contextvars.bound_contextvars(service="attestations",
                                                     records=len(records)):
            await attestations_batch(deps.pool, deps.producer, records)

    return r

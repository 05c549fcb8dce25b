"""Thin Kafka handler: take the raw batch, bind log context, call the logic."""

import structlog
from faststream.kafka import KafkaRouter

from services.orders.logic import orders_batch
from shared.broker import Records, raw_batch_subscriber
from shared.resources import Deps
from shared.stats import Rules
from shared.topics import ORDERS

GROUP = "orders"


def router(deps: Deps) -> KafkaRouter:
    r = KafkaRouter()
    rules = Rules.of(deps.settings)

    # The batch's orders, stats, events and audit entries commit together, then its dead
    # letters and attestations are published, then the offset: a redelivered batch is a replay.
    @raw_batch_subscriber(r, ORDERS, group=deps.settings.group_prefix + GROUP,
                          max_records=deps.settings.orders_batch_size)
    async def on_orders(records: Records) -> None:
        with structlog.contextvars.bound_contextvars(service="orders", records=len(records)):
            await orders_batch(deps.pool, deps.producer, records, rules)

    return r

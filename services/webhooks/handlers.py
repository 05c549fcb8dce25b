"""Thin Kafka handler: client events in, deliveries recorded (no HTTP on this path, so no
endpoint can slow the partition down)."""

import structlog
from faststream.kafka import KafkaRouter

from schemas.events import AnyClientEvent
from schemas.master_data import MasterDataChanged
from services.webhooks.logic import record_deliveries
from shared.broker import Records, decode_records, raw_batch_subscriber
from shared.resources import Deps
from shared.topics import EVENTS

GROUP = "webhooks"
log = structlog.get_logger(__name__)


def router(deps: Deps) -> KafkaRouter:
    r = KafkaRouter()

    @raw_batch_subscriber(r, EVENTS, group=deps.settings.group_prefix + GROUP,
                          max_records=deps.settings.webhooks_batch_size)
    async def on_events(records: Records) -> None:
        # only our relay writes here: an invalid event is a bug, logged and skipped
        events = [e.root for e, _ in decode_records(AnyClientEvent, records, "webhooks")
                  if not isinstance(e.root, MasterDataChanged)]  # no client: nothing to send
        created = await record_deliveries(deps.pool, events)
        log.debug("webhook deliveries recorded", service="webhooks", events=len(events),
                  deliveries=created)

    return r

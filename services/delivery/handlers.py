"""Thin Kafka handlers: outbound messages, provider callbacks, inbox commands."""

import uuid

import structlog
from faststream.kafka import KafkaRouter

from schemas.messages import InboxCommand, OutboundMessage, ProviderCallback
from services.delivery import callbacks, inbox, outbound
from shared.broker import Records, decode_records, raw_batch_subscriber
from shared.resources import Deps
from shared.topics import DELIVERY_CALLBACKS, INBOX_COMMANDS, MESSAGES_OUTBOUND

GROUP = "delivery"
log = structlog.get_logger(__name__)


def router(deps: Deps) -> KafkaRouter:
    r = KafkaRouter()
    group = deps.settings.group_prefix + GROUP
    size = deps.settings.delivery_batch_size

    @raw_batch_subscriber(r, MESSAGES_OUTBOUND, group=group, max_records=size)
    async def on_outbound(records: Records) -> None:
        messages = [m for m, _ in decode_records(OutboundMessage, records, "delivery")]
        with structlog.contextvars.bound_contextvars(service="delivery"):
            await outbound.accept(deps.pool, messages)

    @raw_batch_subscriber(r, DELIVERY_CALLBACKS, group=group, max_records=size)
    async def on_callbacks(records: Records) -> None:
        found = [cb for cb, _ in decode_records(ProviderCallback, records, "delivery")]
        with structlog.contextvars.bound_contextvars(service="delivery"):
            counts = await callbacks.apply(deps.pool, found)
        log.debug("callbacks applied", **counts)

    @raw_batch_subscriber(r, INBOX_COMMANDS, group=group, max_records=size)
    async def on_commands(records: Records) -> None:
        for command, where in decode_records(InboxCommand, records, "delivery"):
            with structlog.contextvars.bound_contextvars(service="delivery",
                                                         thread_id=str(command.thread_id)):
                # a reply without a message_id gets one tied to this record: stable on redelivery
                await inbox.handle(deps.pool, deps.producer, command,
                                   uuid.uuid5(uuid.NAMESPACE_URL, f"kafka:{where}"))

    return r

"""Thin Kafka handlers: outbound messages, provider callbacks, inbox commands."""

import uuid
from typing import TypeVar

import structlog
from faststream.kafka import KafkaRouter
from pydantic import BaseModel, ValidationError

from schemas.messages import InboxCommand, OutboundMessage, ProviderCallback
from services.delivery import callbacks, inbox, outbound
from shared.broker import Records, raw_batch_subscriber
from shared.resources import Deps
from shared.topics import DELIVERY_CALLBACKS, INBOX_COMMANDS, MESSAGES_OUTBOUND

GROUP = "delivery"
log = structlog.get_logger(__name__)
M = TypeVar("M", bound=BaseModel)


def _decode(model: type[M], records: Records) -> list[tuple[M, str]]:
    """Valid payloads with their position; an invalid one is logged with its reason and
    skipped, never stopping the partition."""
    out = []
    for r in records:
        where = f"{r.topic}:{r.partition}:{r.offset}"
        try:
            out.append((model.model_validate_json(r.value or b""), where))
        except ValidationError as e:
            log.error("invalid message skipped", service="delivery", at=where,
                      errors=e.errors(include_url=False, include_input=False))
    return out


def router(deps: Deps) -> KafkaRouter:
    r = KafkaRouter()
    group = deps.settings.group_prefix + GROUP
    size = deps.settings.delivery_batch_size

    @raw_batch_subscriber(r, MESSAGES_OUTBOUND, group=group, max_records=size)
    async def on_outbound(records: Records) -> None:
        messages = [m for m, _ in _decode(OutboundMessage, records)]
        with structlog.contextvars.bound_contextvars(service="delivery"):
            await outbound.accept(deps.pool, messages)

    @raw_batch_subscriber(r, DELIVERY_CALLBACKS, group=group, max_records=size)
    async def on_callbacks(records: Records) -> None:
        found = [cb for cb, _ in _decode(ProviderCallback, records)]
        with structlog.contextvars.bound_contextvars(service="delivery"):
            counts = await callbacks.apply(deps.pool, found)
        log.debug("callbacks applied", **counts)

    @raw_batch_subscriber(r, INBOX_COMMANDS, group=group, max_records=size)
    async def on_commands(records: Records) -> None:
        for command, where in _decode(InboxCommand, records):
            with structlog.contextvars.bound_contextvars(service="delivery",
                                                         thread_id=str(command.thread_id)):
                # a reply without a message_id gets one tied to this record: stable on redelivery
                await inbox.handle(deps.pool, deps.producer, command,
                                   uuid.uuid5(uuid.NAMESPACE_URL, f"kafka:{where}"))

    return r

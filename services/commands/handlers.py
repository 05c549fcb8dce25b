"""Thin Kafka handlers: take the raw batch, bind log context, call the logic."""

import structlog
from faststream.kafka import KafkaRouter

from services.commands.logic import commands_batch
from services.commands.rules import Policy
from shared.broker import Records, raw_batch_subscriber
from shared.resources import Deps
from shared.topics import COMMANDS

GROUP = "commands"


def router(deps: Deps) -> KafkaRouter:
    r = KafkaRouter()

    # Each command commits (with its recorded result) before the results are published, and
    # they before the offset: a redelivered command answers its recorded result.
    @raw_batch_subscriber(r, COMMANDS, group=deps.settings.group_prefix + GROUP,
                          max_records=deps.settings.commands_batch_size)
    async def on_commands(records: Records) -> None:
        with structlog.contextvars.bound_contextvars(service="commands", records=len(records)):
            await commands_batch(deps.pool, deps.producer, records,
                                 policy=Policy.of(deps.settings))

    return r

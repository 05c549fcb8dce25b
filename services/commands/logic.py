"""One batch of `clients.commands.v1` -> the commands applied -> results.

A batch is applied set-based in one transaction (batch.py) when it can be; else each command
alone, as a batch of one, in its own transaction. Either way a command's recorded result is
the first thing looked up (the same command id again answers it and changes nothing), then its
client row is locked and looked at within the command's store (another store's id is
`not_found`), `expected_version` checked (`conflict`),
the change validated like ingest (`rejected`, naming the field) and written with one audit entry
and its event (`client.updated` naming the changed fields, `client.archived`,
`client.restored`); nothing changed: `unchanged`, no event, no entry. An email another live
client of the store holds is a `conflict` naming that client, never a merge; so is a restore
whose email was taken meanwhile. Anything a producer puts on the topic gets a result.
"""

import asyncio
import json
from collections import defaultdict
from collections.abc import Sequence

import asyncpg
import structlog
from aiokafka import AIOKafkaProducer, ConsumerRecord
from pydantic import ValidationError
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_random

from schemas.commands import ClientCommand, CommandResult
from services.commands import batch, sql
from services.commands.rules import DEFAULT_POLICY, Policy
from shared.db import Pool
from shared.normalize import bounded_errors, field_errors
from shared.notify import COMMANDS_RECORDED, notify
from shared.publish import publish_keyed
from shared.topics import COMMAND_RESULTS

log = structlog.get_logger(__name__)

RETRYABLE = (asyncpg.DeadlockDetectedError, asyncpg.SerializationError)


async def commands_batch(pool: Pool, producer: AIOKafkaProducer,
                         records: Sequence["ConsumerRecord[bytes, bytes]"],
                         concurrency: int = 8, policy: Policy = DEFAULT_POLICY) -> None:
    """Every record gets a result: the batch set-based in one transaction (batch.py) when it
    can be, else each command in its own, clients side by side (`one_at_a_time`)."""
    results: list[CommandResult | None] = [None] * len(records)
    commands: list[tuple[int, ClientCommand]] = []
    for i, record in enumerate(records):
        where = f"{record.topic}:{record.partition}:{record.offset}"
        try:
            commands.append((i, ClientCommand.model_validate_json(record.value or b"")))
        except ValidationError as e:
            results[i] = CommandResult(command_id=_given_id(record.value) or where,
                                       store_id=None, outcome="rejected",
                                       errors=bounded_errors(field_errors(e)))
    applied = None
    if commands and not any(batch.needs_one_at_a_time(c) for _, c in commands):
        applied = await _set_based(pool, [c for _, c in commands], policy)
    if applied is None:
        applied = await one_at_a_time(pool, [c for _, c in commands], concurrency, policy)
    for (i, _), result in zip(commands, applied, strict=True):
        results[i] = result
    for r in results:
        if r is not None and r.outcome not in ("applied", "unchanged"):
            log.info("command not applied", command_id=r.command_id, outcome=r.outcome,
                     errors=[e.model_dump() for e in r.errors])
    await publish_keyed(producer, COMMAND_RESULTS,
                        [(r.command_id, r) for r in results if r is not None])


async def _set_based(pool: Pool, commands: list[ClientCommand], policy: Policy
                     ) -> list[CommandResult] | None:
    """The batch in one transaction; None when it met a concurrent writer on a unique index
    (an email taken meanwhile, the same command id elsewhere): then one at a time."""
    try:
        return await _in_one_transaction(pool, commands, policy)
    except asyncpg.UniqueViolationError:
        return None


async def _in_one_transaction(pool: Pool, commands: list[ClientCommand], policy: Policy
                              ) -> list[CommandResult]:
    """A deadlock or serialization failure rolls back and tries again."""
    retrying = AsyncRetrying(retry=retry_if_exception_type(RETRYABLE), reraise=True,
                             stop=stop_after_attempt(5), wait=wait_random(0.005, 0.05))
    async for attempt in retrying:
        with attempt:
            async with pool.acquire() as conn, conn.transaction():
                results = await batch.apply_batch(conn, commands, policy)
                await notify(conn, COMMANDS_RECORDED)  # the edge's waiting requests look again
                return results
    raise AssertionError("unreachable")  # AsyncRetrying(reraise=True) raises on the last try


async def one_at_a_time(pool: Pool, commands: list[ClientCommand], concurrency: int,
                        policy: Policy = DEFAULT_POLICY) -> list[CommandResult]:
    """Each command in its own transaction. Commands on one client apply in their order;
    commands on different clients side by side, up to `concurrency` at once."""
    results: list[CommandResult | None] = [None] * len(commands)
    lanes: dict[str, list[int]] = defaultdict(list)
    for i, c in enumerate(commands):
        lanes[str(c.client_id or c.command_id)].append(i)
    slots = asyncio.Semaphore(concurrency)

    async def lane(indexes: list[int]) -> None:
        for i in indexes:
            with structlog.contextvars.bound_contextvars(command_id=commands[i].command_id,
                                                         action=commands[i].action):
                async with slots:
                    results[i] = await apply(pool, commands[i], policy)

    await asyncio.gather(*(lane(indexes) for indexes in lanes.values()))
    return [r for r in results if r is not None]


def _given_id(raw: bytes | None) -> str | None:
    """The command id of a command that does not validate, when it has a usable one."""
    try:
        body = json.loads(raw or b"")
    except (ValueError, RecursionError):
        return None
    given = body.get("command_id") if isinstance(body, dict) else None
    if isinstance(given, str) and 0 < len(given) <= 128 and given.isprintable():
        return given
    return None


async def apply(pool: Pool, c: ClientCommand, policy: Policy = DEFAULT_POLICY) -> CommandResult:
    """One command in its own transaction. The same command id recorded at the same moment by
    another transaction (its record's key) answers that one's result."""
    try:
        (result,) = await _in_one_transaction(pool, [c], policy)
    except asyncpg.UniqueViolationError as e:
        if e.constraint_name != "client_commands_pkey":
            raise
        return CommandResult.model_validate(
            await pool.fetchval(sql.DONE, c.store_id, c.command_id))
    return result

"""One batch of `clients.commands.v1` -> each command in one transaction -> results.

A command is applied in its own transaction: its result is recorded first thing looked up (the
same command id again answers it and changes nothing), then the client row is locked within the
command's store (another store's id is `not_found`), `expected_version` checked (`conflict`),
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
from datetime import UTC, datetime
from typing import Any

import asyncpg
import structlog
from aiokafka import AIOKafkaProducer, ConsumerRecord
from pydantic import ValidationError
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_random

from schemas.commands import ClientCommand, CommandResult, Outcome
from schemas.common import FieldError
from schemas.events import ClientEvent, EventType
from schemas.ingest import MAX_TAGS
from services.commands import sql
from shared import audit
from shared.audit import Actor, AuditEntry
from shared.db import Connection, Pool
from shared.normalize import bounded_errors, check_email, email_key, field_errors, to_e164
from shared.outbox import add_events, client_event
from shared.publish import publish_keyed
from shared.topics import COMMAND_RESULTS

log = structlog.get_logger(__name__)

RETRYABLE = (asyncpg.DeadlockDetectedError, asyncpg.SerializationError)
EVENT_OF: dict[str, EventType] = {"archive": "client.archived", "restore": "client.restored"}


class Refused(Exception):
    """The command cannot apply: its outcome and why."""

    def __init__(self, outcome: Outcome, field: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.outcome, self.error, self.extra = outcome, FieldError(field=field,
                                                                   message=message), extra


async def commands_batch(pool: Pool, producer: AIOKafkaProducer,
                         records: Sequence["ConsumerRecord[bytes, bytes]"],
                         concurrency: int = 8) -> None:
    """Commands on one client apply in their order; commands on different clients apply side by
    side, up to `concurrency` transactions at once (one command per transaction, so a batch one
    at a time was a round trip chain: about 900 commands/s; bench/reads.py measures it)."""
    results: list[CommandResult | None] = [None] * len(records)
    lanes: dict[str, list[tuple[int, ClientCommand]]] = defaultdict(list)
    for i, record in enumerate(records):
        where = f"{record.topic}:{record.partition}:{record.offset}"
        try:
            command = ClientCommand.model_validate_json(record.value or b"")
        except ValidationError as e:
            results[i] = CommandResult(command_id=_given_id(record.value) or where,
                                       store_id=None, outcome="rejected",
                                       errors=bounded_errors(field_errors(e)))
            continue
        lanes[str(command.client_id or command.command_id)].append((i, command))
    slots = asyncio.Semaphore(concurrency)

    async def lane(commands: list[tuple[int, ClientCommand]]) -> None:
        for i, command in commands:
            with structlog.contextvars.bound_contextvars(command_id=command.command_id,
                                                         action=command.action):
                async with slots:
                    results[i] = await apply(pool, command)

    await asyncio.gather(*(lane(commands) for commands in lanes.values()))
    await publish_keyed(producer, COMMAND_RESULTS,
                        [(r.command_id, r) for r in results if r is not None])


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


async def apply(pool: Pool, c: ClientCommand) -> CommandResult:
    """Apply once. A deadlock or serialization failure is tried again; the same command id
    applied at the same moment elsewhere (its record's key) answers that one's result."""
    retrying = AsyncRetrying(retry=retry_if_exception_type(RETRYABLE), reraise=True,
                             stop=stop_after_attempt(5), wait=wait_random(0.005, 0.05))
    async for attempt in retrying:
        with attempt:
            try:
                return await _apply_once(pool, c)
            except asyncpg.UniqueViolationError as e:
                if e.constraint_name != "client_commands_pkey":
                    raise
                done = await pool.fetchval(sql.DONE, c.store_id, c.command_id)
                return CommandResult.model_validate(done)
    raise AssertionError("unreachable")  # AsyncRetrying(reraise=True) raises on the last try


async def _apply_once(pool: Pool, c: ClientCommand) -> CommandResult:
    async with pool.acquire() as conn, conn.transaction():
        done = await conn.fetchval(sql.DONE, c.store_id, c.command_id)
        if done is not None:
            return CommandResult.model_validate(done)
        try:
            result = await (_bulk_tag(conn, c) if c.action == "bulk_tag" else _one(conn, c))
        except Refused as e:
            result = CommandResult(command_id=c.command_id, store_id=c.store_id,
                                   outcome=e.outcome, errors=[e.error], **e.extra)
        await conn.execute(sql.RECORD, c.store_id, c.command_id, result.model_dump(mode="json"))
    if result.outcome not in ("applied", "unchanged"):
        log.info("command not applied", outcome=result.outcome,
                 errors=[e.model_dump() for e in result.errors])
    return result


async def _one(conn: Connection, c: ClientCommand) -> CommandResult:
    row = await conn.fetchrow(sql.LOCK_CLIENT, c.client_id, c.store_id)
    if row is None:
        raise Refused("not_found", "client_id", "no such client in this store")
    if c.expected_version is not None and row["version"] != c.expected_version:
        raise Refused("conflict", "expected_version",
                      f"the client is at version {row['version']}", version=row["version"])
    before = {**dict(row), "archived": row["deleted_at"] is not None}
    after = _changed(c, before)
    diff = audit.changes(before, after)
    if not diff:
        return CommandResult(command_id=c.command_id, store_id=c.store_id, outcome="unchanged",
                             version=row["version"])
    now = datetime.now(UTC)
    if (after["email_key"] and after["email_key"] != before["email_key"]) or \
            (c.action == "restore" and after["email_key"]):
        await _refuse_held_email(conn, c, after)
    after.update(version=before["version"] + 1, updated_at=now,
                 deleted_at=(before["deleted_at"] or now) if after["archived"] else None)
    try:
        async with conn.transaction():  # a savepoint: a lost race on the email is a conflict
            await conn.execute(sql.UPDATE_CLIENT, *(after[k] for k in (
                "id", "name", "first_name", "last_name", "email", "email_key", "phone",
                "company", "notes", "type", "tags", "status", "credit_limit", "deleted_at",
                "version", "updated_at")))
    except asyncpg.UniqueViolationError:
        await _refuse_held_email(conn, c, after)
        raise
    await audit.record(conn, [_entry(c, after, diff, now)])
    await add_events(conn, [_event(c, after, list(diff), now)])
    return CommandResult(command_id=c.command_id, store_id=c.store_id, outcome="applied",
                         client_ids=[after["id"]], version=after["version"])


def _changed(c: ClientCommand, before: dict[str, Any]) -> dict[str, Any]:
    """The row as the command leaves it (not yet written); Refused when it cannot be."""
    after = {**before, "tags": list(before["tags"])}
    if c.action == "archive":
        after["archived"] = True
        return after
    if c.action == "restore":
        after["archived"] = False
        return after
    if before["archived"]:
        raise Refused("conflict", "client_id", "the client is archived: restore it first")
    if c.action == "set_status":
        after["status"] = c.status
    elif c.action == "set_credit_limit":
        after["credit_limit"] = c.credit_limit
    elif c.action == "tag":
        after["tags"] = _tagged(before["tags"], c)
    elif c.changes is not None:
        _update(after, c, before["region"])
    return after


def _update(after: dict[str, Any], c: ClientCommand, region: str) -> None:
    assert c.changes is not None
    for field in c.changes.model_fields_set:
        value = getattr(c.changes, field)
        if field in ("name", "type", "status") and value is None:
            raise Refused("rejected", field, f"{field} cannot be cleared")
        if field == "email" and value is not None and (why := check_email(value)):
            raise Refused("rejected", "email", why)
        if field == "phone" and value is not None:
            value = to_e164(value, region)
            if value is None:
                raise Refused("rejected", "phone",
                              f"not a possible phone number in region {region}")
        after[field] = value
    after["email_key"] = email_key(after["email"]) if after["email"] else None
    if after["email"] is None and after["phone"] is None:
        raise Refused("rejected", "email", "email or phone is required")


def _tagged(tags: list[str], c: ClientCommand) -> list[str]:
    kept = [t for t in tags if t not in c.remove]
    out = kept + [t for t in c.add if t not in kept]
    if len(out) > MAX_TAGS:
        raise Refused("rejected", "add", f"a client has at most {MAX_TAGS} tags")
    return out


async def _refuse_held_email(conn: Connection, c: ClientCommand, after: dict[str, Any]) -> None:
    holder = await conn.fetchval(sql.EMAIL_HOLDER, c.store_id, after["email_key"], after["id"])
    if holder is not None:
        raise Refused("conflict", "email", f"the email belongs to client {holder}",
                      conflict_client_id=holder)


async def _bulk_tag(conn: Connection, c: ClientCommand) -> CommandResult:
    ids = list(dict.fromkeys(c.client_ids))
    rows = await conn.fetch(sql.LOCK_LIVE_CLIENTS, ids, c.store_id)
    now = datetime.now(UTC)
    changed, entries, events = [], [], []
    for row in rows:
        before = {**dict(row), "archived": False}
        after = {**before, "tags": _tagged(list(row["tags"]), c)}
        if diff := audit.changes(before, after):
            after.update(version=row["version"] + 1, updated_at=now)
            changed.append(after)
            entries.append(_entry(c, after, diff, now))
            events.append(_event(c, after, list(diff), now))
    if changed:
        await conn.execute(sql.SET_TAGS, [a["id"] for a in changed],
                           [json.dumps(a["tags"]) for a in changed],
                           [a["version"] for a in changed], now)
        await audit.record(conn, entries)
        await add_events(conn, events)
    missing = len(ids) - len(rows)
    return CommandResult(
        command_id=c.command_id, store_id=c.store_id,
        outcome="applied" if changed else "unchanged", client_ids=[a["id"] for a in changed],
        errors=[FieldError(field="client_ids", message=f"{missing} not found in this store "
                           "(or archived)")] if missing else [])


def _entry(c: ClientCommand, after: dict[str, Any], diff: dict[str, list[Any]],
           now: datetime) -> AuditEntry:
    return AuditEntry(store_id=after["store_id"], client_id=after["id"],
                      client_version=after["version"], at=now,
                      actor=Actor(c.actor.type, c.actor.id, c.actor.name), action=c.action,
                      changes=diff, command_id=c.command_id)


def _event(c: ClientCommand, after: dict[str, Any], changed: list[str],
           now: datetime) -> ClientEvent:
    kind = EVENT_OF.get(c.action, "client.updated")
    return client_event(kind, after, now, changed if kind == "client.updated" else [])

"""Commands applied in one transaction, set-based: the recorded results in one query, every
client the commands name locked in one (id order), the commands applied in their order to those
rows in memory (rules.py), then one statement each for the rows, the audit entries, the events
and the results. Each command is whole: its row change, its audit entry and its event commit
together. One command alone is a batch of one (logic.py's one-at-a-time path).

Commands one at a time cost eight round trips each: 625 commands/s on this machine
(`python -m bench.reads --only commands`). A command that moves an email or restores a client
asks the database who else holds the address, which sees the store as it was before the batch:
so logic.py gives such a command a batch of its own, and so does a batch that meets a concurrent
writer on the email index.
"""

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import structlog

from schemas.commands import ClientCommand, CommandResult
from schemas.common import FieldError
from schemas.events import ClientEvent
from schemas.master_data import FIELD_OF
from schemas.profiles import PROFILE_FIELDS
from services.commands import addresses, erasure, master_data, merge, sql
from services.commands.errors import Refused
from services.commands.rules import (
    DEFAULT_POLICY,
    RECORDS,
    Policy,
    changed_row,
    entry_of,
    event_of,
    tagged,
)
from shared import audit, stats
from shared.audit import AuditEntry
from shared.db import Connection
from shared.outbox import add_events

log = structlog.get_logger(__name__)

COLUMNS = ("id", "name", "first_name", "last_name", "email", "email_key", "phone", "company",
           "notes", "type", "tags", "status", "credit_limit", "deleted_at", "version",
           "updated_at", "accepts_marketing", "marketing_consent_at", "marketing_consent_source",
           "external_ids", *stats.COLUMNS, "merged_into", "merged_at", *PROFILE_FIELDS,
           *FIELD_OF.values())


def needs_one_at_a_time(c: ClientCommand) -> bool:
    """An email moved or a client restored: the store's other live clients must be asked;
    an erasure request, a merge or an address: their own tables."""
    return c.action in ("restore", "merge", *erasure.ACTIONS, *master_data.ACTIONS,
                        *(a for m in RECORDS for a in m.ACTIONS)) or (
        c.action == "update" and c.changes is not None
        and not {"email", "addresses", "parent_id", *FIELD_OF.values()}.isdisjoint(
            c.changes.model_fields_set))


async def apply_batch(conn: Connection, commands: Sequence[ClientCommand],
                      policy: Policy = DEFAULT_POLICY) -> list[CommandResult]:
    """Within the caller's transaction; results in the commands' order."""
    done = {(r["store_id"], r["command_id"]): CommandResult.model_validate(r["result"])
            for r in await conn.fetch(sql.DONE_MANY, [c.store_id for c in commands],
                                      [c.command_id for c in commands])}
    ids = sorted({i for c in commands for i in ([c.client_id] if c.client_id else c.client_ids)}
                 | {c.secondary_id for c in commands if c.secondary_id})
    rows = {r["id"]: {**dict(r), "archived": r["deleted_at"] is not None}
            for r in await conn.fetch(sql.LOCK_CLIENTS, ids)}
    now = policy.now()
    results: list[CommandResult] = []
    changed: dict[UUID, dict[str, Any]] = {}
    entries: list[AuditEntry] = []
    events: list[ClientEvent] = []
    new: list[tuple[ClientCommand, CommandResult]] = []
    for c in commands:
        if (c.store_id, c.command_id) in done:
            results.append(done[(c.store_id, c.command_id)])
            continue
        try:
            if c.action in master_data.ACTIONS:
                result = await master_data.apply(conn, c, now)
            elif c.action == "bulk_tag":
                result = _bulk(c, rows, now, changed, entries, events)
            else:
                result = await _one(conn, c, rows, now, changed, entries, events, policy)
        except Refused as e:
            result = _refused(c, e)
        done[(c.store_id, c.command_id)] = result
        results.append(result)
        new.append((c, result))
    if changed:
        try:
            async with conn.transaction():  # a savepoint: a lost race on the email index
                await _write(conn, list(changed.values()))
        except asyncpg.UniqueViolationError:
            if len(commands) != 1:
                raise  # the caller takes these commands one at a time
            (c,), (after,) = commands, changed.values()
            try:
                await _refuse_held_email(conn, c, after)
            except Refused as e:  # another transaction took the address meanwhile
                results = [_refused(c, e)]
                new = [(c, results[0])]
                entries, events = [], []
            else:
                raise
    await audit.record(conn, entries)
    if events:
        await add_events(conn, events)
    if new:
        await conn.execute(sql.RECORD_MANY, [r.store_id for _, r in new],
                           [r.command_id for _, r in new],
                           [r.model_dump(mode="json") for _, r in new],
                           [c.client_id for c, _ in new])
    return results


async def _write(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """The rows archived first: the unique email index is checked row by row, and a merge may
    give the primary the email of the secondary it archives."""
    for part in ([r for r in rows if r["archived"]], [r for r in rows if not r["archived"]]):
        if part:
            await conn.execute(sql.UPDATE_CLIENTS, *(
                [json.dumps(r[k]) if k in ("tags", "external_ids") else r[k] for r in part]
                for k in COLUMNS))


def _refused(c: ClientCommand, e: Refused) -> CommandResult:
    return CommandResult(command_id=c.command_id, store_id=c.store_id, outcome=e.outcome,
                         errors=[e.error], **e.extra)


async def _one(conn: Connection, c: ClientCommand, rows: dict[UUID, dict[str, Any]],
               now: datetime, changed: dict[UUID, dict[str, Any]], entries: list[AuditEntry],
               events: list[ClientEvent], policy: Policy) -> CommandResult:
    row = rows.get(c.client_id) if c.client_id else None
    if row is None or row["store_id"] != c.store_id:
        raise Refused("not_found", "client_id", "no such client in this store")
    if c.expected_version is not None and row["version"] != c.expected_version:
        raise Refused("conflict", "expected_version",
                      f"the client is at version {row['version']}", version=row["version"])
    after = changed_row(c, row)
    if c.action == "merge":
        return await _merge(conn, c, row, now, rows, changed, entries, events, policy)
    if c.action in erasure.ACTIONS:
        return await _erasure(conn, c, row, after, now, rows, changed, entries, events, policy)
    for records in RECORDS:
        if c.action in records.ACTIONS:  # a record of the client: its id and what changed
            record_id, diff = await records.apply(conn, c, row, now)
            if diff:
                _commit(c, row, after, diff, now, rows, changed, entries, events)
            return CommandResult(command_id=c.command_id, store_id=c.store_id,
                                 outcome="applied" if diff else "unchanged",
                                 client_ids=[row["id"]] if diff else [],
                                 version=rows[row["id"]]["version"],
                                 **{records.RESULT_FIELD: record_id})
    if c.action == "restore":
        await erasure.refuse_restore_while_pending(conn, row)
    diff = audit.changes(row, after)
    if c.action == "update" and c.changes is not None and c.changes.addresses:
        diff.update(await addresses.add_given(conn, c, row, c.changes.addresses, now))
    if not diff:
        return CommandResult(command_id=c.command_id, store_id=c.store_id, outcome="unchanged",
                             version=row["version"])
    if after["email_key"] and (after["email_key"] != row["email_key"] or c.action == "restore"):
        await _refuse_held_email(conn, c, after)
    if after["parent_id"] is not None and after["parent_id"] != row["parent_id"]:
        await _refuse_cycle(conn, after)
    await master_data.check_assigned(conn, c.store_id, row, after)
    _commit(c, row, after, diff, now, rows, changed, entries, events)
    return CommandResult(command_id=c.command_id, store_id=c.store_id, outcome="applied",
                         client_ids=[row["id"]], version=after["version"])


async def _erasure(conn: Connection, c: ClientCommand, row: dict[str, Any],
                   after: dict[str, Any], now: datetime, rows: dict[UUID, dict[str, Any]],
                   changed: dict[UUID, dict[str, Any]], entries: list[AuditEntry],
                   events: list[ClientEvent], policy: Policy) -> CommandResult:
    """A request archives a live client (client.archived); either action is audited even
    when the row stays as it is. A request already pending answers its id, unchanged."""
    erasure_id, made = await erasure.apply(conn, c, row, now, policy.erasure_cool_off_s)
    if not made:
        return CommandResult(command_id=c.command_id, store_id=c.store_id,
                             outcome="unchanged", version=row["version"],
                             erasure_id=erasure_id)
    if diff := audit.changes(row, after):
        _commit(c, row, after, diff, now, rows, changed, entries, events)
    else:
        entries.append(entry_of(c, row, {}, now))
    return CommandResult(command_id=c.command_id, store_id=c.store_id, outcome="applied",
                         client_ids=[row["id"]], version=rows[row["id"]]["version"],
                         erasure_id=erasure_id)


async def _merge(conn: Connection, c: ClientCommand, row: dict[str, Any], now: datetime,
                 rows: dict[UUID, dict[str, Any]], changed: dict[UUID, dict[str, Any]],
                 entries: list[AuditEntry], events: list[ClientEvent], policy: Policy
                 ) -> CommandResult:
    """The secondary archived into the primary (`row`): client.merged for it, client.updated
    for the primary, an audit entry each (merge.py)."""
    secondary = merge.check(row, rows.get(c.secondary_id) if c.secondary_id else None,
                            c.store_id)
    after = merge.merged_row(row, secondary)
    moved = await merge.move_related(conn, row["id"], secondary["id"], now)
    log.info("merged", primary=str(row["id"]), secondary=str(secondary["id"]), moved=moved)
    computed = await stats.recompute(conn, [row["id"], secondary["id"]], policy.stats, now)
    gone = {**secondary, "archived": True, "merged_into": row["id"], "merged_at": now,
            **computed[secondary["id"]][1]}  # its orders moved: none left
    after.update(computed[row["id"]][1])
    for before, later, extra in ((secondary, gone, {"merged_into": [None, row["id"]]}),
                                 (row, after, {"merged_from": [None, secondary["id"]]})):
        diff = {**audit.changes(before, later), **extra, **{
            k: [before[k], later[k]] for k in stats.COLUMNS if before[k] != later[k]}}
        _commit(c, before, later, diff, now, rows, changed, entries, events)
    return CommandResult(command_id=c.command_id, store_id=c.store_id, outcome="applied",
                         client_ids=[row["id"], secondary["id"]], version=after["version"])


async def _refuse_held_email(conn: Connection, c: ClientCommand, after: dict[str, Any]) -> None:
    """Refused (a conflict naming the holder) when another live client of the store holds the
    email `after` gives the client: never a merge."""
    holder = await conn.fetchval(sql.EMAIL_HOLDER, c.store_id, after["email_key"], after["id"])
    if holder is not None:
        raise Refused("conflict", "email", f"the email belongs to client {holder}",
                      conflict_client_id=holder)


async def _refuse_cycle(conn: Connection, after: dict[str, Any]) -> None:
    """A parent must be a client of the store, and not the client or one of its children."""
    await conn.execute(sql.HIERARCHY_LOCK, str(after["store_id"]))
    check = await conn.fetchrow(sql.PARENT_CHECK, after["id"], after["parent_id"],
                                after["store_id"])
    assert check is not None
    if not check["found"]:
        raise Refused("rejected", "parent_id", "no such client in this store")
    if check["cycle"]:
        raise Refused("rejected", "parent_id", "the parent is this client or under it: "
                      "a hierarchy cannot loop")


def _bulk(c: ClientCommand, rows: dict[UUID, dict[str, Any]], now: datetime,
          changed: dict[UUID, dict[str, Any]], entries: list[AuditEntry],
          events: list[ClientEvent]) -> CommandResult:
    ids = list(dict.fromkeys(c.client_ids))
    live = [rows[i] for i in ids if i in rows and rows[i]["store_id"] == c.store_id
            and not rows[i]["archived"]]
    applied = []
    for row in live:
        after = {**row, "tags": tagged(list(row["tags"]), c)}
        if diff := audit.changes(row, after):
            _commit(c, row, after, diff, now, rows, changed, entries, events)
            applied.append(row["id"])
    missing = len(ids) - len(live)
    return CommandResult(
        command_id=c.command_id, store_id=c.store_id,
        outcome="applied" if applied else "unchanged", client_ids=applied,
        errors=[FieldError(field="client_ids", message=f"{missing} not found in this store "
                           "(or archived)")] if missing else [])


def _commit(c: ClientCommand, before: dict[str, Any], after: dict[str, Any],
            diff: dict[str, list[Any]], now: datetime, rows: dict[UUID, dict[str, Any]],
            changed: dict[UUID, dict[str, Any]], entries: list[AuditEntry],
            events: list[ClientEvent]) -> None:
    """The command's change, made in memory: the row the next command sees, the row to write,
    its audit entry and its event."""
    after.update(version=before["version"] + 1, updated_at=now,
                 deleted_at=(before["deleted_at"] or now) if after["archived"] else None)
    if after["accepts_marketing"] != before["accepts_marketing"]:  # when, and from where
        after.update(marketing_consent_at=now,
                     marketing_consent_source=f"{c.actor.type}: {c.actor.name or c.actor.id}")
    rows[after["id"]] = changed[after["id"]] = after
    entries.append(entry_of(c, after, diff, now))
    events.append(event_of(c, after, list(diff), now))

"""The one 3-step resolver (seed 000, "Smart upsert"), for whole batches.

1. An external id seen before from the same integration key -> that client.
2. Else a live client in the same store with the same email key (or, when only a client merged
   into another has it, that other one: merged_into) -> attach the external id, keep
   the first-touch source, record the touch, fill only blank fields, `duplicate: true`.
3. Else create, stamped with the source.

A batch is one transaction with a fixed number of round trips; two when another transaction
holds one of its external ids: the commands about that person wait for it in the second (see
resolver_sql.TRY_LOCK_EXTERNAL_IDS). Commands about the same person inside a batch are folded in
order (the first creates, the later ones match it). Across transactions the partial unique index
on (store_id, email_key) decides: a create that loses the race rolls the batch back and the
retry finds the winner's row, so one person is one row.
Already-processed request ids (their touch is recorded) return the recorded result and write
nothing.

A command the database refuses (a store that does not exist, a value a constraint rejects) must not
hold up its batch: the batch is split in halves until the refused commands stand alone, those get a
`rejected` result naming the reason, and everything else commits. Only infrastructure failures
(the database unreachable) escape, so that the caller's batch is redelivered later.
"""

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
import structlog
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random,
)

from schemas.common import FieldError
from schemas.events import ClientEvent
from schemas.imports import IMPORTED_PROFILE
from schemas.ingest import MAX_TAGS
from schemas.profiles import WHOLESALE_FIELDS
from schemas.upsert import Outcome, UpsertCommand, UpsertResult
from shared import addresses, audit
from shared import resolver_sql as sql
from shared.audit import Actor, AuditEntry
from shared.db import Connection, Pool
from shared.notify import TOUCHES_RECORDED, notify
from shared.outbox import add_events, client_event

log = structlog.get_logger(__name__)

# Fields a later touch may fill when the client has none (seed 000: "fill only blank fields").
FILLABLE = ("first_name", "last_name", "phone", "company", "notes", *IMPORTED_PROFILE)
# Fields an import in "update" mode overwrites when its row has a value (seed 003).
UPDATABLE = ("name", "first_name", "last_name", "phone", "company", "notes", "type",
             *IMPORTED_PROFILE)


class ConcurrentCreateError(Exception):
    """Another transaction created (or archived) a client this batch was about to touch."""


RETRYABLE = (ConcurrentCreateError, asyncpg.UniqueViolationError,
             asyncpg.DeadlockDetectedError, asyncpg.SerializationError)


@dataclass
class _Plan:
    """What one batch will do, built in memory before anything is written."""

    now: datetime
    results: dict[int, UpsertResult] = field(default_factory=dict)   # by command index
    aliases: dict[int, int] = field(default_factory=dict)  # a request repeated in the batch
    created: dict[UUID, dict[str, Any]] = field(default_factory=dict)  # new snapshots
    matched: dict[UUID, list[UpsertCommand]] = field(default_factory=dict)  # existing clients
    by_external: dict[tuple[UUID, str], UUID] = field(default_factory=dict)
    known_external: dict[tuple[UUID, str], UUID] = field(default_factory=dict)  # as looked up
    by_email: dict[tuple[UUID, str], UUID] = field(default_factory=dict)
    touches: list[tuple[UpsertCommand, UpsertResult]] = field(default_factory=list)
    creators: dict[UUID, UpsertCommand] = field(default_factory=dict)  # of each new client
    audit: list[AuditEntry] = field(default_factory=list)
    unchanged: list[UUID] = field(default_factory=list)  # matched, left as they are, not locked


# The database refusing the data, as opposed to failing to answer.
REFUSED = (asyncpg.IntegrityConstraintViolationError, asyncpg.DataError)


async def resolve_batch(pool: Pool, commands: Sequence[UpsertCommand],
                        attempts: int = 8) -> list[UpsertResult]:
    """Resolve every command; results come back in the commands' order."""
    if not commands:
        return []
    try:
        return await _resolve_in_transactions(pool, commands, attempts)
    except REFUSED as e:
        if len(commands) == 1:
            log.warning("command refused by the database", request_id=commands[0].request_id,
                        store_id=str(commands[0].store_id), error=repr(e))
            return [_refused(commands[0], e)]
        half = len(commands) // 2
        return (await resolve_batch(pool, commands[:half], attempts)
                + await resolve_batch(pool, commands[half:], attempts))


def _refused(c: UpsertCommand, error: asyncpg.PostgresError) -> UpsertResult:
    column = getattr(error, "column_name", None)
    constraint = getattr(error, "constraint_name", None) or ""
    field_name = column or ("store_id" if "store_id" in constraint else "record")
    return UpsertResult(request_id=c.request_id, store_id=c.store_id, client_id=None,
                        outcome="rejected", duplicate=False,
                        errors=[FieldError(field=field_name, message=str(error))])


def _retrying(attempts: int) -> AsyncRetrying:
    return AsyncRetrying(retry=retry_if_exception_type(RETRYABLE),
                         stop=stop_after_attempt(attempts), wait=wait_random(0.005, 0.05),
                         reraise=True, before=_log_retry)


def _log_retry(state: RetryCallState) -> None:
    if state.attempt_number > 1:
        log.info("resolver retry after a concurrent write", attempt=state.attempt_number)


async def _resolve_in_transactions(pool: Pool, commands: Sequence[UpsertCommand],
                                      attempts: int) -> list[UpsertResult]:
    """Every command whose external id no other transaction holds, in one transaction; the
    others, and every command of the batch about the same people, in a second one that waits
    for those transactions to commit (so it finds what they wrote). Two workers whose batches
    share a person then run side by side instead of one waiting out the other's batch."""
    results: dict[int, UpsertResult] = {}
    later: list[int] = []
    async for attempt in _retrying(attempts):
        with attempt:
            async with pool.acquire() as conn, conn.transaction():
                await conn.execute(sql.GENERIC_PLANS)
                later = await _busy_people(conn, commands)
                waiting = set(later)
                now = [i for i in range(len(commands)) if i not in waiting]
                got = await _resolve(conn, [commands[i] for i in now], lock=False) if now else []
            results = dict(zip(now, got, strict=True))
    if later:
        async for attempt in _retrying(attempts):
            with attempt:
                async with pool.acquire() as conn, conn.transaction():
                    await conn.execute(sql.GENERIC_PLANS)
                    got = await _resolve(conn, [commands[i] for i in later])
                results.update(zip(later, got, strict=True))
    return [results[i] for i in range(len(commands))]


async def _busy_people(conn: Connection, commands: Sequence[UpsertCommand]) -> list[int]:
    """Locks the batch's external ids that are free; returns the commands that must wait: those
    of an external id another transaction holds, and every command sharing an external id, an
    email or a request id with one of them (in their order)."""
    keys, exts = _external_columns(commands)
    if not keys:
        return []
    busy = {(r["key_id"], r["external_id"])
            for r in await conn.fetch(sql.TRY_LOCK_EXTERNAL_IDS, keys, exts)}
    return _with_their_people(commands, busy) if busy else []


def _with_their_people(commands: Sequence[UpsertCommand], busy: set[tuple[UUID, str]]
                       ) -> list[int]:
    """The commands of a busy external id, and (transitively) every command sharing an external
    id, an email key or a request id with one of them."""
    holders: dict[tuple[Any, ...], list[int]] = {}
    for i, c in enumerate(commands):
        for k in _person_keys(c):
            holders.setdefault(k, []).append(i)
    todo = [i for i, c in enumerate(commands) if _external_key(c) in busy]
    waiting = set(todo)
    while todo:
        for k in _person_keys(commands[todo.pop()]):
            fresh = [j for j in holders[k] if j not in waiting]
            waiting.update(fresh)
            todo += fresh
    return sorted(waiting)


def _person_keys(c: UpsertCommand) -> list[tuple[Any, ...]]:
    keys: list[tuple[Any, ...]] = [("request", c.store_id, c.integration_key_id, c.request_id)]
    if external := _external_key(c):
        keys.append(("external", *external))
    if c.email_key:
        keys.append(("email", c.store_id, c.email_key))
    return keys


async def _resolve(conn: Connection, commands: Sequence[UpsertCommand], lock: bool = True
                   ) -> list[UpsertResult]:
    """Resolve `commands` in the caller's transaction; `lock`: first wait for (and take) their
    external ids' locks (the caller holds them already when False)."""
    plan = _Plan(now=datetime.now(UTC))
    if lock and (columns := _external_columns(commands))[0]:
        await conn.fetchval(sql.LOCK_EXTERNAL_IDS, *columns)
    pending = await _skip_done_requests(conn, commands, plan)
    await _look_up(conn, [commands[i] for i in pending], plan)
    for i in pending:
        _decide(i, commands[i], plan)
    await _write(conn, plan)
    await notify(conn, TOUCHES_RECORDED)  # whatever it did: a repeated request is answered too
    return [plan.results[plan.aliases.get(i, i)] for i in range(len(commands))]


async def _skip_done_requests(conn: Connection, commands: Sequence[UpsertCommand],
                              plan: _Plan) -> list[int]:
    rows = await conn.fetch(sql.DONE_REQUESTS, [c.store_id for c in commands],
                            [c.integration_key_id for c in commands],
                            [c.request_id for c in commands])
    done = {(r["store_id"], r["integration_key_id"], r["request_id"]): r for r in rows}
    pending: list[int] = []
    first_of: dict[tuple[UUID, UUID | None, str], int] = {}
    for i, c in enumerate(commands):
        key = (c.store_id, c.integration_key_id, c.request_id)
        if key in done:
            r = done[key]
            plan.results[i] = UpsertResult(request_id=c.request_id, store_id=c.store_id,
                                           client_id=r["client_id"], outcome=r["outcome"],
                                           duplicate=r["duplicate"])
        elif key in first_of:  # the same request twice in one batch: the first one counts
            plan.aliases[i] = first_of[key]
        else:
            first_of[key] = i
            pending.append(i)
    return pending


async def _look_up(conn: Connection, commands: Sequence[UpsertCommand], plan: _Plan) -> None:
    keys, exts = _external_columns(commands)
    if keys:
        rows = await conn.fetch(sql.BY_EXTERNAL_ID, keys, exts)
        plan.known_external = {(r["integration_key_id"], r["external_id"]): r["client_id"]
                               for r in rows}
        plan.by_external.update(plan.known_external)
    with_email = [c for c in commands if c.email_key]
    if with_email:
        rows = await conn.fetch(sql.BY_EMAIL, [c.store_id for c in with_email],
                                [c.email_key for c in with_email])
        for r in rows:  # a live holder first; else the client a merged holder joined
            plan.by_email.setdefault((r["store_id"], r["email_key"]), r["id"])


def _external_columns(commands: Sequence[UpsertCommand]) -> tuple[list[UUID], list[str]]:
    """The commands' step-1 keys as two arrays (integration keys, external ids) for unnest()."""
    externals = [k for c in commands if (k := _external_key(c))]
    return [key for key, _ in externals], [ext for _, ext in externals]


def _external_key(c: UpsertCommand) -> tuple[UUID, str] | None:
    """Step 1's key: an external id counts only with the integration key that sent it."""
    if c.external_id and c.integration_key_id:
        return c.integration_key_id, c.external_id
    return None


def _decide(index: int, c: UpsertCommand, plan: _Plan) -> None:
    external = _external_key(c)
    outcome: Outcome
    if external and external in plan.by_external:
        client_id, outcome = plan.by_external[external], "matched_external_id"
    elif c.email_key and (c.store_id, c.email_key) in plan.by_email:
        client_id, outcome = plan.by_email[(c.store_id, c.email_key)], "matched_email"
    else:
        client_id, outcome = uuid.uuid4(), "created"
        plan.created[client_id] = _new_snapshot(client_id, c, plan.now)
        plan.creators[client_id] = c
        if c.email_key:
            plan.by_email[(c.store_id, c.email_key)] = client_id

    if outcome != "created":
        if client_id in plan.created:  # a person first seen earlier in this batch
            _apply_match(plan.created[client_id], c, plan)
        else:
            plan.matched.setdefault(client_id, []).append(c)
    if external:
        plan.by_external[external] = client_id
    result = UpsertResult(request_id=c.request_id, store_id=c.store_id, client_id=client_id,
                          outcome=outcome, duplicate=outcome != "created")
    plan.results[index] = result
    plan.touches.append((c, result))


def _new_snapshot(client_id: UUID, c: UpsertCommand, now: datetime) -> dict[str, Any]:
    external = _external_key(c)
    return {
        "id": client_id, "store_id": c.store_id, "name": c.name, "first_name": c.first_name,
        "last_name": c.last_name, "email": c.email, "email_key": c.email_key, "phone": c.phone,
        "company": c.company, "type": c.type or "retail", "tags": list(c.tags), "notes": c.notes,
        "external_ids": {str(external[0]): external[1]} if external else {},
        "source_label": c.source_label, "source_external_id": c.external_id,
        "source_integration_key_id": c.integration_key_id,
        "created_at": now, "updated_at": now, "version": 1, "status": "ACTIVE",
        "credit_limit": None, "accepts_marketing": bool(c.accepts_marketing),
        "marketing_consent_at": now if c.accepts_marketing is not None else None,
        "marketing_consent_source": c.source_label if c.accepts_marketing is not None else None,
        **{f: getattr(c, f) for f in IMPORTED_PROFILE},
        "tax_exempt": bool(c.tax_exempt), "is_consignor": bool(c.is_consignor),
    }


def _apply_match(snapshot: dict[str, Any], c: UpsertCommand, plan: _Plan) -> None:
    kept = {k: snapshot[k] for k in WHOLESALE_FIELDS}
    if c.accepts_marketing is not None and c.accepts_marketing != snapshot["accepts_marketing"]:
        # consent is the client's latest choice, whatever on_match says about other fields
        snapshot.update(accepts_marketing=c.accepts_marketing, marketing_consent_at=plan.now,
                        marketing_consent_source=c.source_label)
    if c.on_match == "fill":
        _fill_blanks(snapshot, c, plan)
    elif c.on_match == "update":
        for name in UPDATABLE:
            if getattr(c, name) is not None:
                snapshot[name] = getattr(c, name)
        _fill_blanks(snapshot, c, plan)  # tags, and an email on a client that had none
    _profile_rules(snapshot, kept)


def _profile_rules(snapshot: dict[str, Any], kept: dict[str, Any]) -> None:
    """The rules the commands service enforces, kept on a match: a client that is not
    wholesale gains no wholesale terms (and one that has them stays wholesale); a consignor
    code only on a consignor, and the flag stays while consigned items reference the client."""
    if snapshot["type"] != "wholesale":
        if any(kept.values()):
            snapshot["type"] = "wholesale"
        else:
            snapshot.update(kept)
    if not snapshot["is_consignor"]:
        if snapshot.get("consigned_items", 0) > 0:
            snapshot["is_consignor"] = True
        else:
            snapshot["consignor_code"] = None


def _fill_blanks(snapshot: dict[str, Any], c: UpsertCommand, plan: _Plan) -> None:
    for name in FILLABLE:
        if snapshot[name] is None and getattr(c, name) is not None:
            snapshot[name] = getattr(c, name)
    if new_tags := [t for t in c.tags if t not in snapshot["tags"]]:
        # the payload's new tags join the client's (never a removal), up to the limit
        snapshot["tags"] = (snapshot["tags"] + new_tags)[:MAX_TAGS]
    if snapshot["email"] is None and c.email and c.email_key:
        owner = plan.by_email.get((c.store_id, c.email_key))
        if owner is None:  # the address is nobody else's in this store
            snapshot["email"], snapshot["email_key"] = c.email, c.email_key
            plan.by_email[(c.store_id, c.email_key)] = snapshot["id"]
    if external := _external_key(c):
        key, ext = external
        snapshot["external_ids"] = {**snapshot["external_ids"], str(key): ext}


async def _write(conn: Connection, plan: _Plan) -> None:
    events: list[ClientEvent] = []
    if plan.created:
        await _insert_clients(conn, plan)
        events += [client_event("client.created", s, plan.now) for s in plan.created.values()]
        plan.audit += [_entry(s, plan.creators[s["id"]], "created", audit.created(s),
                              plan.now) for s in plan.created.values()]
    if plan.matched:
        events += await _update_matched(conn, plan)
    await _attach_external_ids(conn, plan)
    if plan.touches:
        await _record_touches(conn, plan)
        await _save_addresses(conn, plan)
    if plan.unchanged and await conn.fetchval(sql.STILL_LIVE, plan.unchanged) != len(
            plan.unchanged):
        raise ConcurrentCreateError("a matched client was archived meanwhile")
    await add_events(conn, events)
    await audit.record(conn, plan.audit)


async def _insert_clients(conn: Connection, plan: _Plan) -> None:
    # A stable order (store, email key) so two batches never wait on each other crosswise.
    rows = sorted(plan.created.values(), key=lambda s: (str(s["store_id"]), s["email_key"] or ""))
    cols = ("id", "store_id", "name", "first_name", "last_name", "email", "email_key", "phone",
            "company", "type", "tags", "notes", "external_ids", "source_label",
            "source_external_id", "source_integration_key_id", "created_at", "updated_at",
            "accepts_marketing", "marketing_consent_at", "marketing_consent_source",
            *IMPORTED_PROFILE)
    inserted = await conn.fetch(sql.INSERT_CLIENTS, *_columns(rows, cols))
    if len(inserted) != len(rows):
        raise ConcurrentCreateError("a client with one of these emails was created meanwhile")


async def _update_matched(conn: Connection, plan: _Plan) -> list[ClientEvent]:
    """The matched clients the batch changes, locked, changed and audited; the others (most:
    a repeat customer, a duplicate record) are only read, so a match waits for no transaction
    that holds its client (an order batch, a command), and _write checks after the touches that
    none was archived meanwhile. Sampled during a two-worker bench.orders run, that lock was 89
    of 101 row-lock waits."""
    rows = await conn.fetch(sql.MATCHED_CLIENTS, list(plan.matched))
    if len(rows) != len(plan.matched):
        raise ConcurrentCreateError("a matched client was archived meanwhile")
    trial = replace(plan, by_email=dict(plan.by_email))  # the emails a filled blank claims
    changing = {r["id"] for r in rows if _would_change(dict(r), plan.matched[r["id"]], trial)}
    plan.unchanged = [r["id"] for r in rows if r["id"] not in changing]
    if not changing:
        return []
    rows = await conn.fetch(sql.LOCK_CLIENTS, list(changing))
    if len(rows) != len(changing):
        raise ConcurrentCreateError("a matched client was archived meanwhile")
    changed: list[tuple[dict[str, Any], list[str]]] = []
    for row in rows:
        after = {**dict(row), "tags": list(row["tags"])}
        fields: list[str] = []
        for command in plan.matched[row["id"]]:
            before = dict(after)  # _apply_match replaces values, never changes them in place
            _apply_match(after, command, plan)
            if diff := audit.changes(before, after):  # each change: a version and an entry
                after["version"] += 1
                plan.audit.append(_entry(after, command, "updated", diff, plan.now))
                fields += [f for f in diff if f not in fields]
        if fields:
            after["updated_at"] = plan.now
            changed.append((after, fields))
    if changed:
        cols = ("id", "name", "first_name", "last_name", "email", "email_key", "phone", "company",
                "type", "tags", "notes", "external_ids", "updated_at", "version",
                "accepts_marketing", "marketing_consent_at", "marketing_consent_source",
                *IMPORTED_PROFILE)
        await conn.execute(sql.UPDATE_CLIENTS, *_columns([s for s, _ in changed], cols))
    return [client_event("client.updated", s, plan.now, fields) for s, fields in changed]


def _would_change(row: dict[str, Any], commands: list[UpsertCommand], trial: _Plan) -> bool:
    """Whether the commands change the client, tried on a copy of its row, in the order the
    locked pass takes the clients (id) and with a copy of the plan's emails."""
    after = {**row, "tags": list(row["tags"])}
    for command in commands:
        _apply_match(after, command, trial)
    return bool(audit.changes(row, after))


def _entry(snapshot: dict[str, Any], c: UpsertCommand, action: str,
           diff: dict[str, list[Any]], now: datetime) -> AuditEntry:
    """The audit entry of a change `c` made: who sent it is the key, the import or the
    system (an inbound message), named by its source label."""
    actor = (Actor("integration_key", c.integration_key_id, c.source_label)
             if c.integration_key_id else Actor("import", c.import_job_id, c.source_label)
             if c.import_job_id else Actor("system", None, c.source_label))
    return AuditEntry(store_id=snapshot["store_id"], client_id=snapshot["id"],
                      client_version=snapshot["version"], at=now, actor=actor, action=action,
                      changes=diff, command_id=c.request_id)


def _columns(rows: Sequence[dict[str, Any]], cols: Sequence[str]) -> list[list[Any]]:
    """Row dicts -> one array per column, JSON-encoding the per-row tags and external ids."""
    return [[json.dumps(r[c]) if c in ("tags", "external_ids") else r[c] for r in rows]
            for c in cols]


async def _attach_external_ids(conn: Connection, plan: _Plan) -> None:
    """Map each external id to its client, unless the lookup already found it so."""
    attach = {k: r.client_id for c, r in plan.touches
              if (k := _external_key(c)) and plan.known_external.get(k) != r.client_id}
    if not attach:
        return
    inserted = {(r["integration_key_id"], r["external_id"])
                for r in await conn.fetch(sql.ATTACH_EXTERNAL_IDS, *_pairs(attach))}
    held = {k: v for k, v in attach.items() if k not in inserted}
    if held and len(await conn.fetch(sql.REPOINT_EXTERNAL_IDS, *_pairs(held))) != len(held):
        raise ConcurrentCreateError("an external id was mapped to another client meanwhile")


def _pairs(mapping: dict[tuple[UUID, str], UUID | None]) -> list[list[Any]]:
    return [[k for k, _ in mapping], [e for _, e in mapping], list(mapping.values())]


async def _save_addresses(conn: Connection, plan: _Plan) -> None:
    """The addresses each command brings, saved with its client (an equal one is not added
    again; the first of a type is the default); a match that leaves the client as it is
    (`skip`) leaves its addresses too."""
    given = [(c.store_id, r.client_id, a.type, a, c.source_label or "ingest")
             for c, r in plan.touches
             if r.client_id is not None and (r.outcome == "created" or c.on_match != "skip")
             for a in c.addresses]
    await addresses.save(conn, [g[:4] for g in given], [g[4] for g in given], plan.now)


async def _record_touches(conn: Connection, plan: _Plan) -> None:
    """The timeline entry of every command decided now; also what makes a repeat a no-op."""
    t = plan.touches
    await conn.execute(sql.INSERT_TOUCHES, [c.store_id for c, _ in t], [c.request_id for c, _ in t],
                       [r.client_id for _, r in t], [r.outcome for _, r in t],
                       [r.duplicate for _, r in t], [c.source_label for c, _ in t],
                       [c.integration_key_id for c, _ in t], [c.external_id for c, _ in t],
                       [plan.now] * len(t))

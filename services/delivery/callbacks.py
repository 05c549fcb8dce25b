"""Provider callbacks: every one logged (append-only, duplicates ignored), delivery states
moved forward only, inbound messages threaded. A callback for a message we do not know is
kept and reported; if the message's provider id is recorded later, it is applied then."""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from types import ModuleType
from typing import Any
from uuid import UUID

import asyncpg
import structlog

from schemas.messages import ProviderCallback
from schemas.upsert import UpsertCommand
from services.delivery import resend, sendblue, sql
from services.delivery.messages import MessageRow, insert_messages, publish_states, row_event
from services.delivery.providers import Inbound
from services.delivery.states import forward
from services.delivery.threads import Activity, Want, threads_for, touch
from shared.db import Connection, Pool
from shared.normalize import check_email, email_key, to_e164
from shared.resolver import resolve_batch
from shared.stores import region_of

log = structlog.get_logger(__name__)
INBOUND_NAMESPACE = uuid.UUID("5b0c1d2e-8f3a-4c6b-9d7e-1a2b3c4d5e6f")


# Each provider's knowledge of its own callbacks.
PROVIDERS: dict[str, ModuleType] = {"sendblue": sendblue, "resend": resend}


async def apply(pool: Pool, callbacks: Sequence[ProviderCallback]) -> dict[str, int]:
    """Status callbacks set-based, in one transaction; inbound ones each through the
    resolver."""
    counts = {"applied": 0, "duplicate": 0, "unknown": 0, "inbound": 0}
    status = [cb for cb in callbacks if not cb.is_inbound]
    if status:
        async with pool.acquire() as conn, conn.transaction():
            for outcome, n in (await apply_statuses(conn, status)).items():
                counts[outcome] += n
    for cb in callbacks:
        if cb.is_inbound:
            counts[await _inbound(pool, cb)] += 1
    return counts


async def apply_statuses(conn: Connection, batch: Sequence[ProviderCallback]
                         ) -> dict[str, int]:
    """Log every callback (a duplicate is skipped), then fold the new ones, in arrival order,
    into their messages' states: a fixed number of statements per batch. The caller's
    transaction holds each (provider, provider id) from the first statement on, so a send's
    answer recorded meanwhile waits and then sees these callbacks."""
    mapped = [PROVIDERS[cb.provider].state_of(cb.payload) for cb in batch]
    pids = [cb.provider_id for cb in batch]
    held = sorted({(cb.provider, pid) for cb, pid in zip(batch, pids, strict=True) if pid})
    await conn.execute(sql.LOCK_PROVIDER_IDS, [p for p, _ in held], [i for _, i in held])
    statuses = [PROVIDERS[cb.provider].status_name(cb.payload) for cb in batch]
    logged = await conn.fetch(
        sql.LOG_CALLBACKS, [cb.provider for cb in batch], [cb.callback_key for cb in batch],
        pids, statuses, [m[0] for m in mapped],
        [cb.payload for cb in batch], [cb.received_at for cb in batch])
    seqs = {(r["provider"], r["callback_key"]): r["seq"] for r in logged}
    fresh: list[int] = []   # new callbacks, in arrival order; a key repeated in the batch once
    seen: set[tuple[str, str]] = set()
    for i, cb in enumerate(batch):
        k = (cb.provider, cb.callback_key)
        if k in seqs and k not in seen:
            seen.add(k)
            fresh.append(i)
    keys = sorted({(batch[i].provider, pids[i]) for i in fresh if pids[i]})
    rows = await conn.fetch(sql.MESSAGES_BY_PROVIDER_IDS, [k[0] for k in keys],
                            [k[1] for k in keys]) if keys else []
    messages = {(r["provider"], r["provider_id"]): r for r in rows}
    states = {k: r["state"] for k, r in messages.items()}
    errors: dict[tuple[str, str], str | None] = {}
    ats: dict[tuple[str, str], datetime] = {}
    links: list[tuple[int, UUID]] = []
    unknown = 0
    for i in fresh:
        cb, key = batch[i], (batch[i].provider, pids[i] or "")
        row = messages.get(key)
        if row is None:
            unknown += 1
            log.warning("callback for an unknown message kept", provider=cb.provider,
                        provider_id=pids[i], status=statuses[i],
                        callback_key=cb.callback_key)
            continue
        links.append((seqs[(cb.provider, cb.callback_key)], row["id"]))
        state, error = mapped[i]
        new = forward(states[key], state)
        if new != states[key]:
            states[key] = new
            errors[key] = error if new == "failed" else None
            ats[key] = cb.received_at
    changed = [k for k, st in states.items() if st != messages[k]["state"]]
    if links:
        await conn.execute(sql.LINK_CALLBACKS, [x[0] for x in links], [x[1] for x in links])
    if changed:
        await conn.execute(sql.SET_STATES, [messages[k]["id"] for k in changed],
                           [states[k] for k in changed], [errors.get(k) for k in changed])
        await publish_states(conn, [row_event(messages[k], states[k], ats[k], errors.get(k))
                                    for k in changed])
    return {"applied": len(fresh) - unknown, "duplicate": len(batch) - len(fresh),
            "unknown": unknown}


async def _inbound(pool: Pool, cb: ProviderCallback) -> str:
    p, said = cb.payload, PROVIDERS[cb.provider].inbound(cb.payload)
    ours, theirs = said.ours, said.theirs
    channel = "sms" if cb.provider == "sendblue" else "email"
    store_id = await pool.fetchval(sql.STORE_BY_SMS_NUMBER if channel == "sms"
                                   else sql.STORE_BY_EMAIL, ours)
    pid = cb.provider_id
    client_id = (await _client_for(pool, cb, said, store_id)
                 if store_id is not None and theirs and pid else None)
    if store_id is None or client_id is None or not pid:
        # kept (unlinked) and reported: no store owns `ours`, or the sender is unusable
        await pool.fetchval(sql.LOG_CALLBACK, cb.provider, cb.callback_key, pid, "inbound",
                            None, p, cb.received_at)
        log.warning("inbound message kept unthreaded", provider=cb.provider, to=ours,
                    sender=theirs, provider_id=pid,
                    reason="no store has this number/address" if store_id is None
                    else "the sender is not a usable phone/email")
        return "unknown"
    message_id = uuid.uuid5(INBOUND_NAMESPACE, f"{cb.provider}:{pid}")
    async with pool.acquire() as conn, conn.transaction():
        seq = await conn.fetchval(sql.LOG_CALLBACK, cb.provider, cb.callback_key, pid,
                                  "inbound", None, p, cb.received_at)
        if seq is None:
            return "duplicate"
        (thread_id,) = await threads_for(conn, [Want(store_id, client_id, channel)],
                                         cb.received_at)
        assert thread_id is not None  # only a given thread can be refused
        row = MessageRow(id=message_id, store_id=store_id, client_id=client_id,
                         thread_id=thread_id, direction="inbound", channel=channel,
                         subject=said.subject, text=said.text, html=None, from_addr=theirs,
                         to_addr=ours, state="received", error=None, provider=cb.provider,
                         provider_id=pid, send_status="none")
        created = await insert_messages(conn, [row], cb.received_at)
        await conn.execute(sql.LINK_CALLBACKS, [seq], [message_id])
        if created:
            await touch(conn, [Activity(thread_id, cb.received_at, row.subject, row.text,
                                        channel)])
            await publish_states(conn, [row.event(cb.received_at)])
    return "inbound"


async def _client_for(pool: Pool, cb: ProviderCallback, said: Inbound,
                      store_id: UUID) -> UUID | None:
    """The store's client with this phone (SMS) or email, else one created through the
    resolver with source label `sms` / `email` (idempotent: the request id is the callback's
    provider id)."""
    fields: dict[str, Any]
    sender = said.theirs
    if cb.provider == "sendblue":
        region = await region_of(pool, store_id)
        phone = to_e164(sender, region or "US")
        if phone is None:
            log.warning("inbound SMS from an impossible number", sender=sender)
            return None
        found = await pool.fetchval(sql.CLIENT_BY_PHONE, store_id, phone)
        fields = {"phone": phone, "name": phone, "source_label": "sms"}
    else:
        if check_email(sender):
            log.warning("inbound email from an invalid address", sender=sender)
            return None
        found = await pool.fetchval(sql.CLIENT_BY_EMAIL_KEY, store_id, email_key(sender))
        fields = {"email": sender, "email_key": email_key(sender),
                  "name": said.display_name or sender, "source_label": "email"}
    if found is not None:
        return UUID(str(found))
    command = UpsertCommand(request_id=f"{cb.provider}:{cb.provider_id}", store_id=store_id,
                            received_at=datetime.now(UTC), **fields)
    try:
        (result,) = await resolve_batch(pool, [command])
    except asyncpg.PostgresError as e:
        log.warning("could not create the sender as a client", error=repr(e))
        raise
    return result.client_id

"""Outbound messages: accepted once per message_id, queued for sending, settled."""

from collections.abc import Sequence
from datetime import UTC, datetime
from uuid import UUID

import structlog
from asyncpg import Record

from schemas.messages import MessageEvent, OutboundMessage
from services.delivery import sql
from services.delivery.messages import MessageRow, insert_messages, publish_states, row_event
from services.delivery.providers import Accepted
from services.delivery.states import forward
from services.delivery.threads import Activity, Want, threads_for, touch
from shared.db import Pool
from shared.notify import notify

log = structlog.get_logger(__name__)


async def accept(pool: Pool, messages: Sequence[OutboundMessage]) -> int:
    """Record each new message (queued, or failed with the reason) in its thread, with its
    event, in one transaction and a fixed number of statements; a message_id seen before
    changes nothing. Returns how many were new."""
    now = datetime.now(UTC)
    unique: dict[UUID, OutboundMessage] = {}
    for m in messages:
        unique.setdefault(m.message_id, m)
    async with pool.acquire() as conn, conn.transaction():
        seen = {r["id"] for r in await conn.fetch(sql.EXISTING_MESSAGES, list(unique))}
        fresh = [m for m in unique.values() if m.message_id not in seen]
        if not fresh:
            return 0
        clients = {(r["id"], r["store_id"]): r for r in await conn.fetch(
            sql.CLIENTS_IN_STORES, [m.client_id for m in fresh], [m.store_id for m in fresh])}
        known = [m for m in fresh if (m.client_id, m.store_id) in clients]
        threads = dict(zip([m.message_id for m in known], await threads_for(
            conn, [Want(m.store_id, m.client_id, m.channel, m.thread_id) for m in known], now),
            strict=True))
        refused: list[MessageEvent] = []
        rows: list[MessageRow] = []
        for m in fresh:
            client = clients.get((m.client_id, m.store_id))
            thread_id = threads.get(m.message_id)
            if client is None or thread_id is None:  # another store's client or thread
                why = (f"client {m.client_id} not found in store {m.store_id}" if client is None
                       else f"no thread {m.thread_id} of this client in this store")
                log.warning("outbound message refused", message_id=str(m.message_id),
                            store_id=str(m.store_id), reason=why)
                refused.append(_event_of(m, "failed", None, now, why))
                continue
            from_addr, to_addr, error = _addresses(m, client)
            state = "delivered" if m.channel == "in_app" else "failed" if error else "queued"
            rows.append(MessageRow(
                id=m.message_id, store_id=m.store_id, client_id=m.client_id,
                thread_id=thread_id, direction="outbound", channel=m.channel,
                subject=m.subject, text=m.text, html=m.html, from_addr=from_addr,
                to_addr=to_addr, state=state, error=error, provider=None, provider_id=None,
                send_status="due" if state == "queued" else "none"))
        inserted = await insert_messages(conn, rows, now)
        rows = [r for r in rows if r.id in inserted]
        await touch(conn, [Activity(r.thread_id, now, r.subject, r.text, r.channel)
                           for r in rows])
        await publish_states(conn, refused + [r.event(now) for r in rows])
        if any(r.state == "queued" for r in rows):
            await notify(conn, sql.WAKE_CHANNEL)
    return len(refused) + len(rows)


def _event_of(m: OutboundMessage, state: str, thread_id: UUID | None, at: datetime,
              error: str | None) -> MessageEvent:
    return MessageEvent(message_id=m.message_id, store_id=m.store_id, client_id=m.client_id,
                        thread_id=thread_id, channel=m.channel, state=state, at=at,
                        error=error)


def _addresses(m: OutboundMessage, row: Record) -> tuple[str | None, str | None, str | None]:
    if m.channel == "sms":
        if not row["phone"]:
            return None, None, "the client has no phone number"
        if not row["sms_number"]:
            return None, None, "the store has no SMS number (clients store channels)"
        if not m.text:
            return None, None, "an SMS needs text"
        return row["sms_number"], row["phone"], None
    if m.channel == "email":
        if not row["email"]:
            return None, None, "the client has no email address"
        if not row["email_address"]:
            return None, None, "the store has no email address (clients store channels)"
        if not (m.html or m.text):
            return None, None, "an email needs html or text"
        return row["email_address"], row["email"], None
    return None, None, None


async def record_sent(pool: Pool, message_id: UUID, accepted: Accepted, attempts: int) -> None:
    """The provider took it: keep its id, then fold in any callback that beat us here."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(sql.LOCK_PROVIDER_IDS, [accepted.provider], [accepted.provider_id])
        row = await conn.fetchrow(sql.MESSAGE_FOR_UPDATE, message_id)
        if row is None:
            return
        state = forward(row["state"], accepted.state)
        error = None
        early = await conn.fetch(sql.UNMATCHED_FOR, accepted.provider, accepted.provider_id)
        for cb in early:
            state = forward(state, cb["state"])
        await conn.execute(sql.SENT, message_id, accepted.provider, accepted.provider_id, state,
                           error, attempts)
        if early:
            await conn.execute(sql.LINK_CALLBACKS, [cb["seq"] for cb in early],
                               [message_id] * len(early))
        if state != row["state"]:
            await publish_states(conn, [row_event(row, state, datetime.now(UTC))])


async def record_failed(pool: Pool, message_id: UUID, error: str, attempts: int) -> None:
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(sql.MESSAGE_FOR_UPDATE, message_id)
        if row is None:
            return
        state = forward(row["state"], "failed")
        await conn.execute(sql.SEND_FAILED, message_id, state, error, attempts)
        if state != row["state"]:
            await publish_states(conn, [row_event(row, state, datetime.now(UTC), error)])

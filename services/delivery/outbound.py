"""Outbound messages: accepted once per message_id, queued for sending, settled."""

from collections.abc import Sequence
from datetime import UTC, datetime
from uuid import UUID

import structlog
from asyncpg import Record

from schemas.messages import MessageEvent, OutboundMessage
from services.delivery import sql
from services.delivery.errors import ThreadNotFoundError
from services.delivery.providers import Accepted
from services.delivery.states import forward
from services.delivery.threads import publish_states, thread_for, touch
from shared.db import Connection, Pool

log = structlog.get_logger(__name__)


async def accept(pool: Pool, messages: Sequence[OutboundMessage]) -> int:
    """Record each new message (queued, or failed with the reason) in its thread, in one
    transaction; a message_id seen before changes nothing. Returns how many were new."""
    now = datetime.now(UTC)
    events: list[MessageEvent] = []
    due = 0
    async with pool.acquire() as conn, conn.transaction():
        for m in messages:
            if await conn.fetchval(sql.MESSAGE_EXISTS, m.message_id):
                continue
            event = await _accept_one(conn, m, now)
            events.append(event)
            due += event.state == "queued" and m.channel != "in_app"
        await publish_states(conn, events)
        if due:
            await conn.execute(sql.NOTIFY, sql.WAKE_CHANNEL)
    return len(events)


async def _accept_one(conn: Connection, m: OutboundMessage, now: datetime) -> MessageEvent:
    def event(state: str, thread_id: UUID | None, error: str | None = None) -> MessageEvent:
        return MessageEvent(message_id=m.message_id, store_id=m.store_id, client_id=m.client_id,
                            thread_id=thread_id, channel=m.channel, state=state,
                            at=now, error=error)
    client = await conn.fetchrow(sql.CLIENT_IN_STORE, m.client_id, m.store_id)
    if client is None:  # another store's client, or none: nothing is recorded
        log.warning("outbound message refused", message_id=str(m.message_id),
                    store_id=str(m.store_id), client_id=str(m.client_id),
                    reason="client not in store")
        return event("failed", None, f"client {m.client_id} not found in store {m.store_id}")
    try:
        thread_id = await thread_for(conn, m.store_id, m.client_id, m.channel, now, m.thread_id)
    except ThreadNotFoundError as e:
        log.warning("outbound message refused", message_id=str(m.message_id), reason=str(e))
        return event("failed", None, str(e))
    from_addr, to_addr, error = _addresses(m, client)
    if m.channel == "in_app":
        state, send_status = "delivered", "none"   # the thread is where it goes
    elif error:
        state, send_status = "failed", "none"
    else:
        state, send_status = "queued", "due"
    await conn.execute(sql.INSERT_MESSAGE, m.message_id, m.store_id, m.client_id, thread_id,
                       "outbound", m.channel, m.subject, m.text, m.html, from_addr, to_addr,
                       state, error, None, None, send_status, now)
    await touch(conn, thread_id, now, m.subject, m.text, m.channel)
    return event(state, thread_id, error)


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
            await conn.execute(sql.LINK_CALLBACKS, [cb["seq"] for cb in early], message_id)
        if state != row["state"]:
            await publish_states(conn, [_event(row, state, None)])


async def record_failed(pool: Pool, message_id: UUID, error: str, attempts: int) -> None:
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(sql.MESSAGE_FOR_UPDATE, message_id)
        if row is None:
            return
        state = forward(row["state"], "failed")
        await conn.execute(sql.SEND_FAILED, message_id, state, error, attempts)
        if state != row["state"]:
            await publish_states(conn, [_event(row, state, error)])


def _event(r: Record, state: str, error: str | None) -> MessageEvent:
    return MessageEvent(message_id=r["id"], store_id=r["store_id"], client_id=r["client_id"],
                        thread_id=r["thread_id"], channel=r["channel"], state=state,
                        at=datetime.now(UTC), error=error)

"""Inbox threads: store-scoped, one open thread per client; unread = inbound messages newer
than operator_last_read_at (computed when read, never stored)."""

import uuid
from datetime import datetime
from uuid import UUID

from schemas.messages import MessageEvent
from services.delivery import sql
from services.delivery.errors import ThreadNotFoundError
from shared.db import Connection
from shared.outbox import add_messages
from shared.topics import MESSAGES_EVENTS

PREVIEW_CHARS = 140


def preview(subject: str | None, text: str | None) -> str:
    return " ".join((text or subject or "").split())[:PREVIEW_CHARS]


async def thread_for(conn: Connection, store_id: UUID, client_id: UUID, channel: str,
                     at: datetime, given: UUID | None = None) -> UUID:
    """The given thread (it must be this client's, in this store), else the client's open
    thread, else a new open one."""
    if given is not None:
        row = await conn.fetchrow(sql.THREAD_OF, given)
        if row is None or row["store_id"] != store_id or row["client_id"] != client_id:
            raise ThreadNotFoundError(given)
        found: UUID = row["id"]
        return found
    for _ in range(3):  # a concurrent opener may win the one-open-thread index: take theirs
        existing = await conn.fetchval(sql.OPEN_THREAD, store_id, client_id)
        if existing is not None:
            return UUID(str(existing))
        created = await conn.fetchval(sql.NEW_THREAD, uuid.uuid4(), store_id, client_id,
                                      channel, at)
        if created is not None:
            return UUID(str(created))
    raise RuntimeError(f"no open thread for client {client_id}")


async def touch(conn: Connection, thread_id: UUID, at: datetime, subject: str | None,
                text: str | None, channel: str) -> None:
    await conn.execute(sql.TOUCH_THREAD, thread_id, at, preview(subject, text), channel)


async def publish_states(conn: Connection, events: list[MessageEvent]) -> None:
    """State changes go out through the outbox, committed with the change."""
    await add_messages(conn, MESSAGES_EVENTS, [(uuid.uuid4(), str(e.message_id), e)
                                               for e in events])

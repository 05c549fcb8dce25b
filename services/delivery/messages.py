"""The `messages` table: a row, inserting rows, and the events of their state changes."""

import uuid
from collections.abc import Sequence
from dataclasses import astuple, dataclass
from datetime import datetime
from uuid import UUID

from asyncpg import Record

from schemas.messages import MessageEvent
from services.delivery import sql
from shared.db import Connection
from shared.outbox import add_messages
from shared.topics import MESSAGES_EVENTS


@dataclass(frozen=True)
class MessageRow:
    """One message as INSERT_MESSAGES takes it (its columns, in its order)."""

    id: UUID
    store_id: UUID
    client_id: UUID
    thread_id: UUID
    direction: str               # outbound | inbound
    channel: str                 # sms | email | in_app
    subject: str | None
    text: str | None
    html: str | None
    from_addr: str | None
    to_addr: str | None
    state: str                   # queued | delivered | failed | received
    error: str | None
    provider: str | None         # set once a provider took it, or for inbound ones
    provider_id: str | None
    send_status: str             # due (the senders will send it) | none

    def event(self, at: datetime) -> MessageEvent:
        return MessageEvent(message_id=self.id, store_id=self.store_id,
                            client_id=self.client_id, thread_id=self.thread_id,
                            channel=self.channel, state=self.state, at=at, error=self.error)


async def insert_messages(conn: Connection, rows: Sequence[MessageRow], at: datetime
                          ) -> set[UUID]:
    """The ids inserted now: a message id seen before is left as it was."""
    if not rows:
        return set()
    columns = [list(col) for col in zip(*(astuple(r) for r in rows), strict=True)]
    return {r["id"] for r in await conn.fetch(sql.INSERT_MESSAGES, *columns, at)}


def row_event(row: Record, state: str, at: datetime,
              error: str | None = None) -> MessageEvent:
    """The event for a state change of a stored message (a `messages` record)."""
    return MessageEvent(message_id=row["id"], store_id=row["store_id"],
                        client_id=row["client_id"], thread_id=row["thread_id"],
                        channel=row["channel"], state=state, at=at, error=error)


async def publish_states(conn: Connection, events: list[MessageEvent]) -> None:
    """State changes go out through the outbox, committed with the change."""
    await add_messages(conn, MESSAGES_EVENTS, [(uuid.uuid4(), str(e.message_id), e)
                                               for e in events])

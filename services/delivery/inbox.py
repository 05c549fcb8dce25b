"""Operator commands on threads, always within the command's store."""

import uuid
from datetime import UTC, datetime

import asyncpg
import structlog
from aiokafka import AIOKafkaProducer

from schemas.messages import InboxCommand, OutboundMessage
from services.delivery import sql
from shared.db import Pool
from shared.publish import publish_keyed
from shared.topics import MESSAGES_OUTBOUND

log = structlog.get_logger(__name__)


async def handle(pool: Pool, producer: AIOKafkaProducer, c: InboxCommand,
                 default_reply_id: uuid.UUID) -> bool:
    """Apply one command; False, with a warning saying why, when it cannot be."""
    refused = await _apply(pool, producer, c, default_reply_id)
    if refused:
        log.warning("inbox command refused", command=c.command, thread_id=str(c.thread_id),
                    store_id=str(c.store_id), reason=refused)
    return refused is None


async def _apply(pool: Pool, producer: AIOKafkaProducer, c: InboxCommand,
                 default_reply_id: uuid.UUID) -> str | None:
    missing = "no such thread in this store"
    if c.command == "mark_read":
        found = await pool.fetchval(sql.MARK_READ, c.thread_id, c.store_id,
                                    c.at or datetime.now(UTC))
        return None if found else missing
    if c.command in ("close", "reopen"):
        try:
            found = await pool.fetchval(sql.SET_STATUS, c.thread_id, c.store_id,
                                        "closed" if c.command == "close" else "open")
        except asyncpg.UniqueViolationError:
            return "the client has another open thread"
        return None if found else missing
    if c.channel is None:
        return "a reply needs a channel"
    thread = await pool.fetchrow(sql.THREAD, c.thread_id, c.store_id)
    if thread is None:
        return missing
    # A reply is an outbound message on the thread, like any other.
    reply_id = c.message_id or default_reply_id
    await publish_keyed(producer, MESSAGES_OUTBOUND, [(str(reply_id), OutboundMessage(
        message_id=reply_id, store_id=c.store_id, client_id=thread["client_id"],
        channel=c.channel, subject=c.subject, text=c.text, html=c.html,
        thread_id=c.thread_id))])
    return None

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
    """Apply one command; False (and a warning) when it names no thread of its store."""
    if c.command == "mark_read":
        done = await pool.fetchval(sql.MARK_READ, c.thread_id, c.store_id,
                                   c.at or datetime.now(UTC))
    elif c.command in ("close", "reopen"):
        status = "closed" if c.command == "close" else "open"
        try:
            done = await pool.fetchval(sql.SET_STATUS, c.thread_id, c.store_id, status)
        except asyncpg.UniqueViolationError:
            log.warning("inbox command refused", command=c.command, thread_id=str(c.thread_id),
                        reason="the client has another open thread")
            return False
    else:
        thread = await pool.fetchrow(sql.THREAD, c.thread_id, c.store_id)
        done = thread is not None and c.channel is not None
        if thread is not None and c.channel is not None:
            # sms/email replies are outbound messages like any other; in_app ones too
            reply_id = c.message_id or default_reply_id
            await publish_keyed(producer, MESSAGES_OUTBOUND, [(str(reply_id), OutboundMessage(
                message_id=reply_id, store_id=c.store_id, client_id=thread["client_id"],
                channel=c.channel, subject=c.subject, text=c.text, html=c.html,
                thread_id=c.thread_id))])
    if not done:
        log.warning("inbox command refused", command=c.command, thread_id=str(c.thread_id),
                    store_id=str(c.store_id), reason="no such thread in this store"
                    if c.command != "reply" or c.channel else "a reply needs a channel")
        return False
    return True

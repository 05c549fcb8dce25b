"""What the inbox CLI reads (threads, one thread's messages) and a store's channels it sets."""

from typing import Any
from uuid import UUID

import asyncpg

from services.delivery import sql
from services.delivery.errors import ThreadNotFoundError
from shared.db import Pool
from shared.normalize import check_email, to_e164
from shared.stores import StoreNotFoundError, region_of


async def threads(pool: Pool, store_id: UUID, limit: int = 100) -> list[dict[str, Any]]:
    """Newest activity first, with unread counts."""
    return [dict(r) for r in await pool.fetch(sql.THREADS, store_id, limit)]


async def thread(pool: Pool, thread_id: UUID, store_id: UUID | None) -> dict[str, Any]:
    """The thread and its messages, oldest first, with their delivery states."""
    row = await pool.fetchrow(sql.THREAD, thread_id, store_id)
    if row is None:
        raise ThreadNotFoundError(thread_id)
    messages = [dict(m) for m in await pool.fetch(sql.THREAD_MESSAGES, thread_id)]
    return {**dict(row), "messages": messages}


async def set_channels(pool: Pool, store_id: UUID, sms_number: str | None,
                       email_address: str | None) -> dict[str, Any]:
    """The store's SendBlue number and email address (for sending, and to route inbound)."""
    if sms_number is not None:
        region = await region_of(pool, store_id)
        e164 = to_e164(sms_number, region or "US")
        if e164 is None:
            raise ValueError(f"not a possible phone number: {sms_number!r}")
        sms_number = e164
    if email_address is not None and (why := check_email(email_address)):
        raise ValueError(f"email address {email_address!r}: {why}")
    try:
        row = await pool.fetchrow(sql.SET_CHANNELS, store_id, sms_number, email_address)
    except asyncpg.ForeignKeyViolationError as e:
        raise StoreNotFoundError(store_id) from e
    except asyncpg.UniqueViolationError as e:
        raise ValueError("that number or address already belongs to another store") from e
    return dict(row) if row is not None else {}

"""Erasure requests as commands: `request_erasure` archives the client at once (if live) and
records a request due after the cool-off; `cancel_erasure` withdraws a request until it is due
(the client stays archived). The eraser (services/eraser) runs the due ones. Both are audited
on the client; a restore is refused while an erasure is pending."""

import uuid
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from schemas.commands import ClientCommand
from services.commands import sql
from services.commands.errors import Refused

ACTIONS = ("request_erasure", "cancel_erasure")


async def apply(conn: Any, c: ClientCommand, row: dict[str, Any], now: datetime,
                cool_off_s: float) -> tuple[UUID, bool]:
    """The request made or cancelled: its id, and whether this command changed it."""
    if c.action == "request_erasure":
        pending = await conn.fetchval(sql.PENDING_ERASURE, row["id"])
        if pending is not None:
            return pending, False
        erasure_id = uuid.uuid5(uuid.NAMESPACE_URL, f"erasure:{c.store_id}:{c.command_id}")
        await conn.execute(sql.REQUEST_ERASURE, erasure_id, c.store_id, row["id"], c.reason,
                           c.actor.type, c.actor.id, c.actor.name, c.command_id, now,
                           now + timedelta(seconds=cool_off_s))
        return erasure_id, True
    request = await conn.fetchrow(sql.ERASURE_FOR_UPDATE, c.erasure_id, row["id"])
    if request is None:
        raise Refused("not_found", "erasure_id", "no such erasure request for this client")
    if request["done_at"] is not None:
        raise Refused("conflict", "erasure_id", "the client was erased already")
    if request["cancelled_at"] is not None:
        return request["id"], False
    if request["due_at"] <= now:
        raise Refused("conflict", "erasure_id", "the erasure is due: it can no longer be "
                      "cancelled")
    await conn.execute(sql.CANCEL_ERASURE, request["id"], now, c.actor.name)
    return request["id"], True


async def refuse_restore_while_pending(conn: Any, row: dict[str, Any]) -> None:
    pending = await conn.fetchval(sql.PENDING_ERASURE, row["id"])
    if pending is not None:
        raise Refused("conflict", "client_id", f"an erasure is pending ({pending}): cancel it "
                      "before restoring", erasure_id=pending)

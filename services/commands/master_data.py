"""Master data commands (seed 001): create, rename or delete a store's customer type, customer
segment or broker, and the check that a client's reference to one is to an entry of its store
and kind. Each change is one entry in `master_data_log` and `master_data.changed` on the
events topic (key = store id). A name is unique per store and kind, case aside (a second is a
conflict naming the first); a delete is refused while clients use the entry (conflict with the
count). The entry is locked first (FOR UPDATE), and an assignment locks it FOR KEY SHARE, so a
delete and an assignment never both succeed."""

import uuid
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from schemas.commands import ClientCommand, CommandResult
from schemas.master_data import FIELD_OF, MasterDataChanged
from services.commands import sql
from services.commands.errors import Refused
from shared import master_data as shared_master_data
from shared.db import Connection
from shared.outbox import add_messages
from shared.topics import EVENTS

ACTIONS = ("create_master_data", "rename_master_data", "delete_master_data")
CHANGE: dict[str, Literal["created", "renamed", "deleted"]] = {
    "create_master_data": "created", "rename_master_data": "renamed",
    "delete_master_data": "deleted"}


async def apply(conn: Connection, c: ClientCommand, now: datetime) -> CommandResult:
    assert c.master_kind is not None
    if c.action == "create_master_data":
        assert c.master_name is not None
        entry_id = uuid.uuid5(uuid.NAMESPACE_URL, f"master:{c.store_id}:{c.command_id}")
        await _refuse_taken(conn, c, c.master_name, None)
        await conn.execute(sql.CREATE_MASTER, entry_id, c.store_id, c.master_kind,
                           c.master_name, c.master_name.casefold(), now)
        await _record(conn, c, entry_id, c.master_name, {"name": [None, c.master_name]}, now)
        return _applied(c, entry_id)
    entry = await conn.fetchrow(sql.MASTER_FOR_UPDATE, c.master_id, c.store_id, c.master_kind)
    if entry is None:
        raise Refused("not_found", "master_id", f"no such {c.master_kind} in this store")
    if c.action == "delete_master_data":
        used = await shared_master_data.in_use(conn, c.master_kind, entry["id"])
        if used:
            raise Refused("conflict", "master_id", f"{used} clients use it: it cannot be "
                          "deleted", in_use=used)
        await conn.execute(sql.DELETE_MASTER, entry["id"])
        await _record(conn, c, entry["id"], entry["name"], {"name": [entry["name"], None]}, now)
        return _applied(c, entry["id"])
    assert c.master_name is not None
    if c.master_name == entry["name"]:
        return CommandResult(command_id=c.command_id, store_id=c.store_id,
                             outcome="unchanged", master_data_id=entry["id"])
    await _refuse_taken(conn, c, c.master_name, entry["id"])
    await conn.execute(sql.RENAME_MASTER, entry["id"], c.master_name,
                       c.master_name.casefold(), now)
    await _record(conn, c, entry["id"], c.master_name,
                  {"name": [entry["name"], c.master_name]}, now)
    return _applied(c, entry["id"])


async def check_assigned(conn: Connection, store_id: UUID, before: dict[str, Any],
                         after: dict[str, Any]) -> None:
    """Each master-data reference the change sets must be an entry of the store and its kind;
    locked FOR KEY SHARE until the change commits, so it cannot be deleted meanwhile."""
    for kind, field in FIELD_OF.items():
        if after[field] is not None and after[field] != before[field]:
            found = await conn.fetchval(sql.MASTER_FOR_KEY_SHARE, after[field], store_id, kind)
            if found is None:
                raise Refused("rejected", field, f"no such {kind} in this store")


async def _refuse_taken(conn: Connection, c: ClientCommand, name: str, own: UUID | None
                        ) -> None:
    taken = await conn.fetchval(sql.MASTER_BY_NAME, c.store_id, c.master_kind, name.casefold())
    if taken is not None and taken != own:
        raise Refused("conflict", "master_name", f"a {c.master_kind} named {name!r} exists: "
                      f"{taken}")


async def _record(conn: Connection, c: ClientCommand, entry_id: UUID, name: str,
                  changes: dict[str, list[Any]], now: datetime) -> None:
    await conn.execute(sql.LOG_MASTER, c.store_id, entry_id, c.master_kind, now, c.actor.type,
                       c.actor.id, c.actor.name, c.action, changes, c.command_id)
    event = MasterDataChanged(id=uuid.uuid4(), occurred_at=now, store_id=c.store_id,
                              kind=c.master_kind, master_data_id=entry_id, name=name,
                              change=CHANGE[c.action])
    await add_messages(conn, EVENTS, [(event.id, str(c.store_id), event)])


def _applied(c: ClientCommand, entry_id: UUID) -> CommandResult:
    return CommandResult(command_id=c.command_id, store_id=c.store_id, outcome="applied",
                         master_data_id=entry_id)

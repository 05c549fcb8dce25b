"""The notes log commands (seed 002): add, edit or remove a note on a client. Each is a new
version of the client with an audit entry (`note`: before -> after, with the note's id) and
`client.updated` naming `notes_log`; an edit to the same text is unchanged."""

import uuid
from datetime import datetime
from typing import Any
from uuid import UUID

from schemas.commands import ClientCommand
from services.commands import sql
from services.commands.errors import Refused
from shared.audit import Changes
from shared.db import Connection

ACTIONS = ("add_note", "edit_note", "remove_note")
EVENT_FIELD, RESULT_FIELD = "notes_log", "note_id"  # client.updated's name; the result's


async def apply(conn: Connection, c: ClientCommand, row: dict[str, Any], now: datetime
                ) -> tuple[UUID, Changes]:
    """The note the command is about, and what it changed (nothing: empty)."""
    if c.action == "add_note":
        assert c.note_text is not None
        note_id = uuid.uuid5(uuid.NAMESPACE_URL, f"note:{c.store_id}:{c.command_id}")
        await conn.execute(sql.ADD_NOTE, note_id, row["store_id"], row["id"], c.note_text,
                           c.actor.type, c.actor.id, c.actor.name, now)
        return note_id, {"note": [None, {"id": str(note_id), "text": c.note_text}]}
    note = await conn.fetchrow(sql.NOTE_FOR_UPDATE, c.note_id, row["id"])
    if note is None:
        raise Refused("not_found", "note_id", "no such note on this client")
    before = {"id": str(note["id"]), "text": note["text"]}
    if c.action == "remove_note":
        await conn.execute(sql.REMOVE_NOTE, note["id"])
        return note["id"], {"note": [before, None]}
    assert c.note_text is not None
    if c.note_text == note["text"]:
        return note["id"], {}
    await conn.execute(sql.EDIT_NOTE, note["id"], c.note_text, now)
    return note["id"], {"note": [before, {"id": str(note["id"]), "text": c.note_text}]}

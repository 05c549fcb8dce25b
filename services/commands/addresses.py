"""The address commands (seed 004): add, change, remove an address of a client, or make one
its type's default. One default per client and type (a partial unique index): a new default
unsets the old one in the same transaction. Each change is a new version of the client with an
audit entry (`address`: before -> after) and `client.updated` naming `addresses`; an equal
address added again is the one there, unchanged."""

import uuid
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from schemas.addresses import Address, TypedAddress
from schemas.commands import ClientCommand
from services.commands import sql
from services.commands.errors import Refused
from shared import addresses as shared_addresses
from shared.addresses import FIELDS, fingerprint
from shared.audit import Changes
from shared.db import Connection

ACTIONS = ("add_address", "update_address", "remove_address", "default_address")
EVENT_FIELD, RESULT_FIELD = "addresses", "address_id"  # client.updated's name; the result's


async def apply(conn: Connection, c: ClientCommand, row: dict[str, Any], now: datetime
                ) -> tuple[UUID, Changes]:
    """The address the command is about, and what it changed (nothing: empty)."""
    if c.action == "add_address":
        assert c.address is not None
        assert c.address_type is not None
        made = await conn.fetchrow(sql.ADD_ADDRESS, uuid.uuid4(), row["store_id"], row["id"],
                                   c.address_type, *(getattr(c.address, f) for f in FIELDS),
                                   fingerprint(c.address), _source(c), now)
        if made is None:  # an equal one is there: that one
            found = await conn.fetchrow(sql.EQUAL_ADDRESS, row["id"], c.address_type,
                                        fingerprint(c.address))
            assert found is not None
            return found["id"], await _default(conn, dict(found), c.is_default, now)
        change: Changes = {"address": [None, _view(made)]}
        return made["id"], {**change, **await _default(conn, dict(made), c.is_default, now)}
    assert c.address_id is not None
    current = await conn.fetchrow(sql.ADDRESS_FOR_UPDATE, c.address_id, row["id"])
    if current is None:
        raise Refused("not_found", "address_id", "no such address of this client")
    before = dict(current)
    if c.action == "remove_address":
        await conn.execute(sql.REMOVE_ADDRESS, before["id"])
        return before["id"], {"address": [_view(before), None]}
    if c.action == "default_address":
        return before["id"], await _default(conn, before, True, now)
    given = c.address_changes.model_dump() if c.address_changes else {}
    merged = {**{f: before[f] for f in FIELDS}, **given}
    for required in ("address1", "city"):
        if not merged[required]:
            raise Refused("rejected", required, f"{required} cannot be cleared")
    address = Address.model_validate(merged)
    kind = c.address_type or before["type"]
    change = {}
    if merged != {f: before[f] for f in FIELDS} or kind != before["type"]:
        try:
            async with conn.transaction():  # a savepoint: the change may equal another address
                after = await conn.fetchrow(sql.UPDATE_ADDRESS, before["id"], kind,
                                            *(getattr(address, f) for f in FIELDS),
                                            fingerprint(address), now)
        except asyncpg.UniqueViolationError:
            raise Refused("conflict", "address", "the client has an equal address of this "
                          "type already") from None
        assert after is not None
        change = {"address": [_view(before), _view(after)]}
        before = dict(after)
    return before["id"], {**change, **await _default(conn, before, c.is_default, now)}


async def add_given(conn: Connection, c: ClientCommand, row: dict[str, Any],
                    given: list[TypedAddress], now: datetime) -> Changes:
    """`update`'s addresses, each added unless an equal one is there: what was added."""
    added = await shared_addresses.save(conn, [(row["store_id"], row["id"], a.type, a)
                                               for a in given], _source(c), now)
    return {"addresses": [None, [_view(r) for r in added]]} if added else {}


async def _default(conn: Connection, address: dict[str, Any], wanted: bool | None,
                   now: datetime) -> Changes:
    """Make `address` its type's default when asked and it is not already."""
    if not wanted or address["is_default"]:
        return {}
    old = await conn.fetchval(sql.UNSET_DEFAULT, address["client_id"], address["type"],
                              address["id"], now)
    await conn.execute(sql.SET_DEFAULT, address["id"], now)
    return {"default_" + address["type"]: [None if old is None else str(old),
                                           str(address["id"])]}


def _source(c: ClientCommand) -> str:
    return f"{c.actor.type}: {c.actor.name or c.actor.id}"


def _view(r: Any) -> dict[str, Any]:
    return {"id": str(r["id"]), "type": r["type"], **{f: r[f] for f in FIELDS}}

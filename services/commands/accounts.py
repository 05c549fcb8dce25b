"""B2B account commands (seed 003): contacts (invite by email, change role, remove; one per
email on an account) and per-product price overrides (set, remove). Each change is a new
version of the client with an audit entry (`contact` or `price_override`: before -> after;
the overrides' entries are `PriceOverrideSet` / `PriceOverrideRemoved`) and `client.updated`
naming `contacts` or `price_overrides`. Inviting an email the account has already answers
that contact, unchanged (its role changes with set_contact_role)."""

import uuid
from datetime import datetime
from typing import Any
from uuid import UUID

from schemas.commands import ClientCommand
from services.commands import sql
from services.commands.errors import Refused
from shared.audit import Changes
from shared.db import Connection
from shared.normalize import check_email, email_key

CONTACT_ACTIONS = ("invite_contact", "set_contact_role", "remove_contact")
PRICE_ACTIONS = ("set_price_override", "remove_price_override")
ACTIONS = CONTACT_ACTIONS + PRICE_ACTIONS
RESULT_FIELD = "contact_id"


async def apply(conn: Connection, c: ClientCommand, row: dict[str, Any], now: datetime
                ) -> tuple[UUID | None, Changes]:
    """The contact the command is about (none for a price), and what it changed."""
    if c.action in PRICE_ACTIONS:
        return None, await _price(conn, c, row, now)
    if c.action == "invite_contact":
        assert c.contact_email is not None
        if why := check_email(c.contact_email):
            raise Refused("rejected", "contact_email", why)
        made = await conn.fetchrow(sql.INVITE_CONTACT, uuid.uuid4(), row["store_id"], row["id"],
                                   c.contact_email, email_key(c.contact_email), c.contact_name,
                                   c.contact_role or "BUYER", now)
        if made is None:  # the account has this email: that contact
            return await conn.fetchval(sql.CONTACT_BY_EMAIL, row["id"],
                                       email_key(c.contact_email)), {}
        return made["id"], {"contact": [None, _contact(made)]}
    contact = await conn.fetchrow(sql.CONTACT_FOR_UPDATE, c.contact_id, row["id"])
    if contact is None:
        raise Refused("not_found", "contact_id", "no such contact on this account")
    if c.action == "remove_contact":
        await conn.execute(sql.REMOVE_CONTACT, contact["id"])
        return contact["id"], {"contact": [_contact(contact), None]}
    if c.contact_role == contact["role"]:
        return contact["id"], {}
    changed = await conn.fetchrow(sql.SET_CONTACT_ROLE, contact["id"], c.contact_role, now)
    return contact["id"], {"contact": [_contact(contact), _contact(changed)]}


async def _price(conn: Connection, c: ClientCommand, row: dict[str, Any], now: datetime
                 ) -> Changes:
    before = await conn.fetchrow(sql.PRICE_FOR_UPDATE, row["id"], c.product_id)
    old = None if before is None else _override(before)
    if c.action == "remove_price_override":
        if before is None:
            raise Refused("not_found", "product_id", "no price override for this product")
        await conn.execute(sql.REMOVE_PRICE, row["id"], c.product_id)
        return {"price_override": [old, None]}
    new = {"product_id": c.product_id, "price_minor": c.price_minor, "currency": c.currency}
    if new == old:
        return {}
    await conn.execute(sql.SET_PRICE, row["store_id"], row["id"], c.product_id, c.price_minor,
                       c.currency, now)
    return {"price_override": [old, new]}


def _contact(r: Any) -> dict[str, Any]:
    return {"id": str(r["id"]), "email": r["email"], "name": r["name"], "role": r["role"]}


def _override(r: Any) -> dict[str, Any]:
    return {"product_id": r["product_id"], "price_minor": r["price_minor"],
            "currency": r["currency"]}

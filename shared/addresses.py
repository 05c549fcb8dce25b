"""Addresses, shared by the orders service (addresses orders bring) and the commands service
(the addresses API): when two are the same, and the columns they are written with."""

import unicodedata
from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from asyncpg import Record

from schemas.addresses import Address
from shared.db import Connection

FIELDS = ("first_name", "last_name", "company", "address1", "address2", "city", "state",
          "pincode", "country", "phone")


def fingerprint(a: Address) -> str:
    """An address as compared for equality: each part case-folded, accents and spacing and
    punctuation aside ("12, Main St." = "12 main st"); names and phone do not make another
    address."""
    parts = [a.address1, a.address2, a.city, a.state, a.pincode, a.country]
    text = "|".join(p or "" for p in parts)
    folded = unicodedata.normalize("NFKD", text).casefold()
    return "".join(ch for ch in folded if ch.isalnum() or ch == "|")


# New addresses, each unless an equal one of its type is there; the first of a type becomes
# its default (the first of the statement's rows, when the client has none of the type yet).
SAVE = """
INSERT INTO client_addresses (id, store_id, client_id, type, is_default, first_name, last_name,
                              company, address1, address2, city, state, pincode, country,
                              phone, fingerprint, source, created_at, updated_at)
SELECT gen_random_uuid(), a.store_id, a.client_id, a.type,
       NOT EXISTS (SELECT 1 FROM client_addresses d
                   WHERE d.client_id = a.client_id AND d.type = a.type AND d.is_default)
           AND a.n = min(a.n) OVER (PARTITION BY a.client_id, a.type),
       a.first_name, a.last_name, a.company, a.address1, a.address2, a.city, a.state,
       a.pincode, a.country, a.phone, a.fingerprint, a.source, $16, $16
FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[],
            $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[],
            $13::text[], $14::text[], $15::text[]) WITH ORDINALITY
     AS a(store_id, client_id, type, first_name, last_name, company, address1, address2, city,
          state, pincode, country, phone, fingerprint, source, n)
ON CONFLICT (client_id, type, fingerprint) DO NOTHING
RETURNING id, type, first_name, last_name, company, address1, address2, city, state, pincode,
          country, phone"""


async def save(conn: Connection, rows: Sequence[tuple[UUID, UUID, str, Address]],
               source: str | Sequence[str], now: datetime) -> list[Record]:
    """(store, client, type, address) each saved unless an equal one is there, from `source`
    (one for all, or one per row); one statement. Two equal ones in `rows`: the first. The
    addresses added."""
    if not rows:
        return []
    sources = [source] * len(rows) if isinstance(source, str) else list(source)
    return await conn.fetch(SAVE, [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows],
                       *([getattr(r[3], f) for r in rows] for f in FIELDS),
                       [fingerprint(r[3]) for r in rows], sources, now)

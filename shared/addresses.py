"""Addresses, shared by the orders service (addresses orders bring) and the commands service
(the addresses API): when two are the same, and the columns they are written with."""

import unicodedata
from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from schemas.orders import Address
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
# its default.
SAVE = """
INSERT INTO client_addresses (id, store_id, client_id, type, is_default, first_name, last_name,
                              company, address1, address2, city, state, pincode, country,
                              phone, fingerprint, source, created_at, updated_at)
SELECT gen_random_uuid(), a.store_id, a.client_id, a.type,
       NOT EXISTS (SELECT 1 FROM client_addresses d
                   WHERE d.client_id = a.client_id AND d.type = a.type AND d.is_default),
       a.first_name, a.last_name, a.company, a.address1, a.address2, a.city, a.state,
       a.pincode, a.country, a.phone, a.fingerprint, $15, $16, $16
FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[],
            $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[],
            $13::text[], $14::text[])
     AS a(store_id, client_id, type, first_name, last_name, company, address1, address2, city,
          state, pincode, country, phone, fingerprint)
ON CONFLICT (client_id, type, fingerprint) DO NOTHING"""


async def save(conn: Connection, rows: Sequence[tuple[UUID, UUID, str, Address]], source: str,
               now: datetime) -> None:
    """(store, client, type, address) each saved unless an equal one is there; one
    statement."""
    if not rows:
        return
    await conn.execute(SAVE, [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows],
                       *([getattr(r[3], f) for r in rows] for f in FIELDS),
                       [fingerprint(r[3]) for r in rows], source, now)

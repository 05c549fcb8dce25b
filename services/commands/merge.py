"""Profile merge (seed 004): `merge` folds a secondary client into the primary (`client_id`).

The primary keeps its own values; the secondary's tags join its tags (refused past 250), the
notes are joined (refused past 5,000 characters), and each blank field (first and last name,
email, phone, company) is filled from the secondary, external ids too (the primary's win for
the same key). Everything that points at the secondary moves to the primary in one statement:
external ids, touches, threads and their messages (the secondary's open thread is closed when
the primary has one open: one open thread per client), attestations, addresses (one equal to
one of the primary's is dropped; a default stays one only where the primary has none of its
type) and orders with their events, after which the primary's stats are computed again. The
secondary is archived with `merged_into`; clients merged into it earlier now point at the
primary, so `merged_into` is always one hop, and the resolver follows it (an email only a
merged client holds resolves to the one it was merged into).

Refused: a client merged into itself, across stores (not_found), an archived or erased side
(a merged client is archived: so a chain that would loop is refused too). The secondary's
audit trail stays its own; both get an entry of the merge.
"""

from datetime import datetime
from typing import Any
from uuid import UUID

from schemas.ingest import MAX_TAGS
from services.commands import sql
from services.commands.errors import Refused
from shared.db import Connection
from shared.normalize import email_key

MAX_NOTES = 5000
FILLED = ("first_name", "last_name", "email", "phone", "company")


def check(primary: dict[str, Any], secondary: dict[str, Any] | None, store_id: UUID
          ) -> dict[str, Any]:
    """The secondary, when the two can be merged; else Refused."""
    if secondary is None or secondary["store_id"] != store_id:
        raise Refused("not_found", "secondary_id", "no such client in this store")
    if secondary["id"] == primary["id"]:
        raise Refused("rejected", "secondary_id", "a client cannot be merged into itself")
    if secondary["erased_at"] is not None:
        raise Refused("conflict", "secondary_id", "the client was erased")
    if secondary["merged_into"] is not None:
        raise Refused("conflict", "secondary_id",
                      f"the client was merged into {secondary['merged_into']} already")
    if secondary["archived"]:
        raise Refused("conflict", "secondary_id", "the client is archived: restore it first")
    return secondary


def merged_row(primary: dict[str, Any], secondary: dict[str, Any]) -> dict[str, Any]:
    """The primary as the merge leaves it (its stats aside)."""
    after = {**primary}
    after["tags"] = list(primary["tags"]) + [t for t in secondary["tags"]
                                             if t not in primary["tags"]]
    if len(after["tags"]) > MAX_TAGS:
        raise Refused("rejected", "tags", f"the merged client would have {len(after['tags'])} "
                      f"tags: at most {MAX_TAGS}")
    notes = list(dict.fromkeys(n for n in (primary["notes"], secondary["notes"]) if n))
    after["notes"] = "\n\n".join(notes) or None
    if after["notes"] is not None and len(after["notes"]) > MAX_NOTES:
        raise Refused("rejected", "notes", f"the joined notes would be {len(after['notes'])} "
                      f"characters: at most {MAX_NOTES}")
    for field in FILLED:
        if after[field] is None and secondary[field] is not None:
            after[field] = secondary[field]
    after["email_key"] = email_key(after["email"]) if after["email"] else None
    after["external_ids"] = {**secondary["external_ids"], **primary["external_ids"]}
    return after


async def move_related(conn: Connection, primary_id: UUID, secondary_id: UUID,
                       now: datetime) -> dict[str, int]:
    """Re-points what belongs to the secondary at the primary; the rows moved, per table."""
    row = await conn.fetchrow(sql.MERGE_MOVE, primary_id, secondary_id, now)
    assert row is not None
    return dict(row)

"""How many clients use a master-data entry (seed 001): asked by the edge's in-use route and by
the commands service before a delete, so both count the same way."""

from uuid import UUID

from schemas.master_data import FIELD_OF, MasterKind
from shared.db import Connection, Pool

# kind -> the count over its clients column (live and archived: the foreign key holds for all)
IN_USE = {kind: f"SELECT count(*) FROM clients WHERE {field} = $1"  # noqa: S608 (constants)
          for kind, field in FIELD_OF.items()}


async def in_use(db: Connection | Pool, kind: MasterKind, entry_id: UUID) -> int:
    return int(await db.fetchval(IN_USE[kind], entry_id))

"""The audit log (invariant 12): every change to a client, written in the transaction that makes
it. Append-only: the database refuses to update or delete it (migration 0007)."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

from schemas.profiles import PROFILE_FIELDS
from shared.db import Connection

ActorType = Literal["integration_key", "import", "member", "public_key", "system"]

# The fields of a client whose changes are audited (and named in client.updated's `changed`).
AUDITED = ("name", "first_name", "last_name", "email", "phone", "company", "type", "tags",
           "notes", "external_ids", "status", "credit_limit", "archived", "accepts_marketing",
           *PROFILE_FIELDS, "customer_type_id", "customer_segment_id", "broker_id")

INSERT = """
INSERT INTO audit_log (store_id, client_id, client_version, at, actor_type, actor_id,
                       actor_name, action, changes, command_id)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::int[], $4::timestamptz[], $5::text[],
                     $6::uuid[], $7::text[], $8::text[], $9::jsonb[], $10::text[])"""


@dataclass(frozen=True)
class Actor:
    type: ActorType
    id: UUID | None
    name: str | None


# What a change did: field -> [before, after].
Changes = dict[str, list[Any]]


@dataclass(frozen=True)
class AuditEntry:
    store_id: UUID
    client_id: UUID
    client_version: int
    at: datetime
    actor: Actor
    action: str
    changes: Changes
    command_id: str | None


def changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> Changes:
    """{field: [before, after]} for each audited field that differs."""
    return {f: [before.get(f), after.get(f)] for f in AUDITED if before.get(f) != after.get(f)}


_CONTAINERS = (list, dict)
_AS_IS = frozenset({str, int, float, bool, type(None), list, dict})


def created(snapshot: Mapping[str, Any]) -> Changes:
    """A new client's entry: each audited field it has (not None, False or empty), from
    nothing. By identity and type, not `in (None, [], {})`: that compared every UUID and
    datetime with a list and a dict (23 µs a client under cProfile in bench.imports, about a
    tenth of the resolver's time there)."""
    out: Changes = {}
    for f in AUDITED:
        v = snapshot.get(f)
        if v is None or v is False or (type(v) in _CONTAINERS and not v):
            continue
        out[f] = [None, v]
    return out


async def record(conn: Connection, entries: Sequence[AuditEntry]) -> None:
    """One statement for a batch's entries."""
    if not entries:
        return
    await conn.execute(INSERT, [e.store_id for e in entries], [e.client_id for e in entries],
                       [e.client_version for e in entries], [e.at for e in entries],
                       [e.actor.type for e in entries], [e.actor.id for e in entries],
                       [e.actor.name for e in entries], [e.action for e in entries],
                       [_jsonable(e.changes) for e in entries],
                       [e.command_id for e in entries])


def _jsonable(value: Changes) -> Changes:
    return {k: [x if type(x) in _AS_IS else str(x) if isinstance(x, UUID | Decimal | date)
                else x for x in v]
            for k, v in value.items()}

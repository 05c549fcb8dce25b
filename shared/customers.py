"""A customer named by one of the store's systems (a checkout, an order, an attestation), found
or made through the one resolver as an upsert from that system would be: the store must exist,
a given integration key must be the store's, and the fields are checked like ingest's."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from schemas.ingest import ClientFields
from shared.db import Pool
from shared.dead_letters import Rejected
from shared.normalize import InvalidRecordError, to_command
from shared.resolver import resolve_batch

STORES = "SELECT id, region FROM stores WHERE id = ANY ($1::uuid[])"
KEYS = "SELECT id, store_id FROM integration_keys WHERE id = ANY ($1::uuid[])"


@dataclass(frozen=True)
class Customer:
    store_id: UUID
    fields: ClientFields
    request_id: str              # the touch's: a redelivery resolves to the same client
    source_label: str
    received_at: datetime
    integration_key_id: UUID | None = None


async def resolve_customers(pool: Pool, customers: Sequence[Customer]
                            ) -> list[UUID | Rejected]:
    """Each customer's client id, or why there is none; in order, one resolver batch."""
    if not customers:
        return []
    regions = {r["id"]: r["region"] for r in await pool.fetch(
        STORES, list({c.store_id for c in customers}))}
    keys = {r["id"]: r["store_id"] for r in await pool.fetch(
        KEYS, [c.integration_key_id for c in customers if c.integration_key_id])}
    answers: list[UUID | Rejected | None] = [None] * len(customers)
    commands, resolving = [], []
    for n, c in enumerate(customers):
        if c.store_id not in regions:
            answers[n] = Rejected("invalid", "store_id", "no such store")
        elif c.integration_key_id and keys.get(c.integration_key_id) != c.store_id:
            answers[n] = Rejected("invalid", "integration_key_id", "not a key of this store")
        else:
            try:
                commands.append(to_command(
                    c.fields, request_id=c.request_id, store_id=c.store_id,
                    region=regions[c.store_id], integration_key_id=c.integration_key_id,
                    source_label=c.source_label, received_at=c.received_at))
                resolving.append(n)
            except InvalidRecordError as e:
                answers[n] = Rejected("invalid", "customer", "; ".join(
                    f"{x.field}: {x.message}" for x in e.errors))
    for n, result in zip(resolving, await resolve_batch(pool, commands), strict=True):
        answers[n] = result.client_id if result.client_id is not None else Rejected(
            "invalid", "customer",
            "; ".join(f"{x.field}: {x.message}" for x in result.errors) or result.outcome)
    assert all(a is not None for a in answers)  # each is refused or resolved above
    return [a for a in answers if a is not None]

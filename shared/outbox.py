"""The transactional outbox: events are written in the same transaction as the change they
describe; the relay publishes them (at least once, with a stable event id) and deletes them."""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from schemas.events import ChangeType, ClientErased, ClientEvent, ClientSnapshot
from shared.db import Connection
from shared.topics import EVENTS

CHANNEL = "clients_outbox"

# Payloads arrive as JSON text from pydantic's serializer and are cast here: a dict per event
# through the pool's json.dumps codec cost twice the time (model_dump, then the stdlib encoder).
# The column is `json`, not `jsonb` (migration 0022): a row is written once, read once by the
# relay as text and deleted, so parsing it into jsonb's tree and printing it back bought nothing.
# Measured on this machine with 1.6 KB client events, best of ten: inserting 500 took 10.2-11.9
# ms as jsonb and 5.7-8.5 ms as json; the relay's read of 1,000 as text 12.5-15.0 ms and 2.7-7.4
# ms. The relay now publishes the very bytes pydantic wrote.
# The relay's wake-up rides on the insert (a data-modifying WITH runs to completion whatever the
# outer SELECT reads): one round trip fewer for every writer of events, and round trips are what
# a small batch mostly waits on (asyncpg's query logger under bench.ingest at 500 records/s: ~16
# a resolver batch, 1-1.7 ms each on the loaded machine). Idle, a transaction adding one event
# took 1,149-1,203 µs instead of 1,358-1,415 (best of five rounds of 200, alternating).
INSERT = """
WITH added AS (
    INSERT INTO outbox (event_id, topic, key, payload)
    SELECT event_id, topic, key, payload::json
    FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[]) AS m(event_id, topic, key, payload))
SELECT pg_notify($5, '')"""


def client_event(kind: ChangeType, row: dict[str, Any], at: datetime,
                 changed: Sequence[str] = ()) -> ClientEvent:
    """An event about a client row (extra columns such as email_key are not part of it; a new
    client's row has no order stats yet: their defaults)."""
    snapshot = {k: row[k] for k in ClientSnapshot.model_fields if k in row}
    return ClientEvent.model_validate({
        "id": uuid.uuid4(), "type": kind, "occurred_at": at,
        "store_id": row["store_id"], "client": snapshot, "changed": list(changed)})


async def add_events(conn: Connection, events: Sequence[ClientEvent | ClientErased]) -> None:
    """Client events, keyed by client id."""
    await add_messages(conn, EVENTS, [
        (e.id, str(e.client_id if isinstance(e, ClientErased) else e.client.id), e)
        for e in events])


async def add_messages(conn: Connection, topic: str,
                       messages: Sequence[tuple[uuid.UUID, str, BaseModel]]) -> None:
    """(event id, key, payload) for `topic`, published by the relay after this commits."""
    if not messages:
        return
    await conn.execute(INSERT, [m[0] for m in messages], [topic] * len(messages),
                       [m[1] for m in messages],
                       [m[2].model_dump_json() for m in messages], CHANNEL)

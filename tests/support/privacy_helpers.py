"""A person with data of every kind the system keeps, for the subject-access and erasure tests,
and a scan of every text and JSON column of every table for what identifies them."""

import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import httpx

from shared.db import Pool
from tests.conftest import eventually
from tests.support.api_helpers import Shop


@dataclass(frozen=True)
class Person:
    client_id: UUID
    name: str
    early_name: str     # the name it was created with, changed since
    email: str
    phone: str          # E.164, as stored
    external_id: str
    message_id: UUID
    thread_id: UUID

    def needles(self) -> list[str]:
        """What must not survive an erasure: the name, the email (any case), the phone."""
        return [self.name, self.early_name, self.email, self.phone, self.phone.lstrip("+")]


async def a_person(pool: Pool, http: httpx.AsyncClient, shop: Shop, label: str) -> Person:
    """Created through the Integration API (touch, external id), changed through the API
    (audit with values, a command), then messages, callbacks, an inbox preview, an import row
    result, a webhook body and response and an attestation, written as their services do."""
    tag = secrets.token_hex(4)
    name, email = f"{label} Person{tag}", f"{label.lower()}.{tag}@Example.com"
    phone = f"+1207{secrets.randbelow(8_000_000) + 2_000_000}"
    external_id = f"ext-{label}-{tag}"
    created = await http.post("/integrations/v1/clients", headers=shop.auth("integration"),
                              json={"email": email, "name": f"{label} Early{tag}", "phone": phone,
                                    "external_id": external_id, "company": f"{label} Co"})
    assert created.status_code == 201, created.text
    client_id = UUID(created.json()["client"]["id"])
    patched = await http.patch(f"/v1/clients/{client_id}", headers=shop.auth("member"),
                               json={"name": name, "notes": f"{name} likes tea"})
    assert patched.status_code == 200, patched.text

    now = datetime.now(UTC)
    thread_id, message_id = uuid.uuid4(), uuid.uuid4()
    provider_id = f"re_{uuid.uuid4().hex}"
    store_id = shop.store.id
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            "INSERT INTO threads (id, store_id, client_id, channel, status, last_activity_at, "
            "last_preview) VALUES ($1, $2, $3, 'email', 'open', $4, $5)",
            thread_id, store_id, client_id, now, f"Hi {name}, your order")
        await conn.execute(
            "INSERT INTO messages (id, store_id, client_id, thread_id, direction, channel, "
            "subject, text, html, from_addr, to_addr, state, provider, provider_id, "
            "created_at, updated_at) VALUES ($1, $2, $3, $4, 'outbound', 'email', $5, $6, $7, "
            "'shop@example.net', $8, 'delivered', 'resend', $9, $10, $10)",
            message_id, store_id, client_id, thread_id, f"For {name}", f"Hi {name}",
            f"<p>Hi {name}</p>", email.lower(), provider_id, now)
        await conn.execute(
            "INSERT INTO message_callbacks (provider, callback_key, provider_id, message_id, "
            "status, state, payload, received_at) VALUES ('resend', $1, $2, $3, "
            "'email.delivered', 'delivered', $4, $5)",
            uuid.uuid4().hex, provider_id, message_id,
            {"type": "email.delivered", "data": {"email_id": provider_id, "to": [email]}}, now)
        job_id = uuid.uuid4()
        await conn.execute(
            "INSERT INTO import_jobs (id, store_id, filename, mode, source_label) "
            "VALUES ($1, $2, 'people.csv', 'update', 'CSV import')", job_id, store_id)
        await conn.execute(
            "INSERT INTO import_rows (job_id, row, status, client_id, column_name, message) "
            "VALUES ($1, 2, 'updated', $2, 'phone', $3)",
            job_id, client_id, f"kept {phone} for {email}")
        endpoint_id, event_id = uuid.uuid4(), uuid.uuid4()
        await conn.execute(
            "INSERT INTO webhook_endpoints (id, store_id, url, secret, disabled_at) "
            "VALUES ($1, $2, 'https://hooks.example.net/in', 'whsec_test', now())",
            endpoint_id, store_id)
        body = {"type": "client.updated", "timestamp": now.isoformat(),
                "data": {"id": str(client_id), "name": name, "email": email, "phone": phone}}
        await conn.execute(
            "INSERT INTO webhook_messages (event_id, store_id, type, body, client_id) "
            "VALUES ($1, $2, 'client.updated', $3, $4)",
            event_id, store_id, json.dumps(body), client_id)
        delivery = await conn.fetchval(
            "INSERT INTO webhook_deliveries (endpoint_id, event_id, state, finished_at) "
            "VALUES ($1, $2, 'succeeded', now()) RETURNING id", endpoint_id, event_id)
        await conn.execute(
            "INSERT INTO webhook_attempts (delivery_id, at, status_code, latency_ms, response) "
            "VALUES ($1, now(), 200, 3.5, $2)", delivery, f"ok, got {email}")
        await conn.execute(
            "INSERT INTO attestations (id, store_id, client_id, capture_id, text, version, "
            "captured_at, ip, user_agent, source) VALUES ($1, $2, $3, $4, 'For research use "
            "only.', 3, $5, '203.0.113.7', 'Mozilla/5.0', 'checkout')",
            uuid.uuid4(), store_id, client_id, f"cap-{tag}", now)
    return Person(client_id, name, f"{label} Early{tag}", email, phone, external_id,
                  message_id, thread_id)


async def text_columns(pool: Pool) -> list[tuple[str, str]]:
    """Every text, varchar, text[] and JSON column of every table of the schema."""
    rows = await pool.fetch(
        "SELECT c.table_name, c.column_name FROM information_schema.columns c "
        "JOIN information_schema.tables t USING (table_schema, table_name) "
        "WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE' "
        "AND c.data_type IN ('text', 'character varying', 'json', 'jsonb', 'ARRAY') "
        "ORDER BY 1, 2")
    return [(r["table_name"], r["column_name"]) for r in rows]


async def where_found(pool: Pool, needles: list[str]) -> list[str]:
    """`table.column` wherever any needle appears (case-insensitive), in any row."""
    found = []
    for table, column in await text_columns(pool):
        # identifiers from the catalog, quoted; the needles are parameters
        hit = await pool.fetchval(
            f'SELECT count(*) FROM "{table}" WHERE lower("{column}"::text) LIKE ANY ($1)',  # noqa: S608
            [f"%{n.lower()}%" for n in needles])
        if hit:
            found.append(f"{table}.{column}")
    return found


async def until_erased(pool: Pool, erasure_id: str) -> dict[str, Any]:
    async def done() -> bool:
        return bool(await pool.fetchval(
            "SELECT done_at IS NOT NULL FROM erasure_requests WHERE id = $1",
            UUID(erasure_id)))
    await eventually(done, within=60)
    row = await pool.fetchrow("SELECT * FROM erasure_requests WHERE id = $1", UUID(erasure_id))
    assert row is not None
    return dict(row)

"""Erasing a person: every copy of a client's personal data, in one transaction.

The eraser (services/eraser) runs this for each due erasure request; the webhooks service runs
the webhook part again when it records `client.erased` (an event that reached it after the
erasure would otherwise leave a body behind). Each step touches only rows that still hold
something, so a second run changes nothing and counts nothing: the receipt of a run that
crashed and ran again equals that of one that did not (the first run's transaction rolled back
whole).

What is kept: the client row's id, store, status, type and dates (others point at it), each
row's ids and states (a message was sent, a delivery succeeded), the audit entries with their
values "[erased]" (the database allows that change and no other, migration 0011), and the RUO
attestations, which are the store's evidence and hold no name, email or phone.
"""

from typing import Any
from uuid import UUID

from shared.db import Connection

ERASED = "[erased]"
# Audit values that say nothing about the person: kept, so the log still reads as a history.
AUDIT_KEPT = ["status", "type", "archived"]

# $1 the client id, $2 the time of the erasure.
CLIENT = """
UPDATE clients
SET name = '[erased]', first_name = NULL, last_name = NULL, email = NULL, email_key = NULL,
    phone = NULL, company = NULL, notes = NULL, tags = '{}', external_ids = '{}',
    source_external_id = NULL, credit_limit = NULL, date_of_birth = NULL, allergies = NULL,
    resale_certificate = NULL, referral_details = NULL, consignor_code = NULL,
    instagram = NULL, facebook = NULL, erased_at = $2,
    deleted_at = coalesce(deleted_at, $2), updated_at = $2, version = version + 1
WHERE id = $1 AND erased_at IS NULL
RETURNING store_id, version"""

WEBHOOK_STEPS: dict[str, str] = {
    "client_notes": "DELETE FROM client_notes WHERE client_id = $1",
    "client_contacts": "DELETE FROM client_contacts WHERE client_id = $1",
    # the body every subscriber would be sent (again): the client id alone
    "webhook_messages": """
UPDATE webhook_messages
SET body = jsonb_build_object('type', type, 'timestamp', body::jsonb -> 'timestamp',
                              'data', jsonb_build_object('id', client_id))::text
WHERE client_id = $1 AND type <> 'client.erased'
  AND body::jsonb -> 'data' <> jsonb_build_object('id', client_id)""",
    "webhook_attempts": """
UPDATE webhook_attempts SET response = NULL
WHERE response IS NOT NULL AND delivery_id IN (
    SELECT d.id FROM webhook_deliveries d JOIN webhook_messages m USING (event_id)
    WHERE m.client_id = $1)""",
}

STEPS: dict[str, str] = {
    "client_notes": "DELETE FROM client_notes WHERE client_id = $1",
    "client_contacts": "DELETE FROM client_contacts WHERE client_id = $1",
    "client_external_ids": "DELETE FROM client_external_ids WHERE client_id = $1",
    "client_addresses": "DELETE FROM client_addresses WHERE client_id = $1",
    "client_touches": """
UPDATE client_touches SET external_id = NULL WHERE client_id = $1 AND external_id IS NOT NULL""",
    # callbacks first: they are found through the messages' provider ids, which stay
    "message_callbacks": """
UPDATE message_callbacks SET payload = '{}'
WHERE payload <> '{}' AND (
    message_id IN (SELECT id FROM messages WHERE client_id = $1)
    OR (message_id IS NULL AND (provider, provider_id) IN (
        SELECT provider, provider_id FROM messages
        WHERE client_id = $1 AND provider_id IS NOT NULL)))""",
    "messages": """
UPDATE messages SET subject = NULL, text = NULL, html = NULL, from_addr = NULL, to_addr = NULL,
                    error = NULL
WHERE client_id = $1 AND num_nonnulls(subject, text, html, from_addr, to_addr, error) > 0""",
    "threads": "UPDATE threads SET last_preview = '' WHERE client_id = $1 AND last_preview <> ''",
    **WEBHOOK_STEPS,
    "outbox": """
DELETE FROM outbox
WHERE key = $1::uuid::text OR payload ->> 'client_id' = $1::uuid::text
   OR payload -> 'client' ->> 'id' = $1::uuid::text""",
    "import_rows": """
UPDATE import_rows SET message = NULL WHERE client_id = $1 AND message IS NOT NULL""",
    "client_commands": """
UPDATE client_commands SET result = jsonb_set(result, '{errors}', '[]')
WHERE client_id = $1 AND result -> 'errors' <> '[]'""",
    "audit_log": """
UPDATE audit_log a SET changes = r.changes
FROM (SELECT seq, (SELECT coalesce(jsonb_object_agg(
                              key, CASE WHEN key = ANY ($2::text[]) THEN value
                                        ELSE erased_form(value) END), '{}')
                   FROM jsonb_each(changes)) AS changes
      FROM audit_log WHERE client_id = $1) r
WHERE a.seq = r.seq AND a.changes <> r.changes""",
}

REASONS = "SELECT id, reason FROM erasure_requests WHERE client_id = $1"
SET_REASON = "UPDATE erasure_requests SET reason = $2 WHERE id = $1"


async def erase_client(conn: Connection, client: dict[str, Any], at: Any
                       ) -> dict[str, int]:
    """Within the caller's transaction: the client (a row as it was before, locked) erased
    everywhere. Returns the rows touched per table."""
    client_id: UUID = client["id"]
    touched = {"clients": 0 if await conn.fetchrow(CLIENT, client_id, at) is None else 1}
    for table, statement in STEPS.items():
        args: list[Any] = [client_id, AUDIT_KEPT] if table == "audit_log" else [client_id]
        touched[table] = _count(await conn.execute(statement, *args))
    touched["erasure_requests"] = await _redact_reasons(conn, client)
    return touched


async def erase_webhook_copies(conn: Connection, client_id: UUID) -> int:
    """The webhook bodies and responses of one client (the webhooks service, on
    `client.erased`)."""
    return sum([_count(await conn.execute(s, client_id)) for s in WEBHOOK_STEPS.values()])


async def _redact_reasons(conn: Connection, client: dict[str, Any]) -> int:
    """A request's reason is staff's free text: one that names the person goes whole."""
    values = [str(v).lower() for k in ("name", "first_name", "last_name", "email", "phone")
              if (v := client.get(k)) and len(str(v)) >= 3]
    if client.get("phone"):
        values.append(str(client["phone"]).lstrip("+"))
    n = 0
    for r in await conn.fetch(REASONS, client["id"]):
        if r["reason"] != ERASED and any(v in r["reason"].lower() for v in values):
            await conn.execute(SET_REASON, r["id"], ERASED)
            n += 1
    return n


def _count(status: str) -> int:
    """The row count of an UPDATE or DELETE status ("UPDATE 3")."""
    return int(status.rsplit(" ", 1)[-1])

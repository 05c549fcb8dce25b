"""The reads' SQL. The list is one statement per (sort, live or archived), put together from the
constant pieces below; every value is a `$n` parameter. Filters left out are NULL: the pool plans
each statement with its values (shared/db.py), so `$3 IS NULL OR …` folds away and the partial
keyset indexes of migration 0010 serve the sort."""

from schemas.imports import COLUMNS as IMPORT_COLUMNS

COLUMNS = """
id, store_id, name, first_name, last_name, email, phone, company, type, status, credit_limit,
tags, notes, external_ids, source_label, source_external_id, source_integration_key_id,
created_at, updated_at, version, deleted_at AS archived_at, erased_at, total_orders,
total_spent_minor, avg_order_value_minor, first_order_at, last_order_at, is_vip, segment,
accepts_marketing, marketing_consent_at, marketing_consent_source, merged_into, date_of_birth,
allergies, wholesale_terms, tax_exempt, resale_certificate, resale_certificate_expires_on,
customer_since, preferred_contact, discovery_source, referral_details, is_consignor,
consignor_code, consigned_items, instagram, facebook, parent_id, country, currency, qbo_id,
customer_type_id, customer_segment_id, broker_id"""

# $1 store, $2 q (a LIKE pattern), $3 tags (all of them), $4 type, $5 status, $6 source label,
# $7 created after, $8 created before, $9 segment, $10 VIP, $11 accepts marketing, $12 customer
# type, $13 customer segment, $14 broker (master data ids).
FILTERS = """
store_id = $1
AND ($2::text IS NULL OR search LIKE $2)
AND ($3::text[] IS NULL OR tags @> $3)
AND ($4::text IS NULL OR type = $4)
AND ($5::text IS NULL OR status = $5)
AND ($6::text IS NULL OR source_label = $6)
AND ($7::timestamptz IS NULL OR created_at > $7)
AND ($8::timestamptz IS NULL OR created_at < $8)
AND ($9::text IS NULL OR segment = $9)
AND ($10::boolean IS NULL OR is_vip = $10)
AND ($11::boolean IS NULL OR accepts_marketing = $11)
AND ($12::uuid IS NULL OR customer_type_id = $12)
AND ($13::uuid IS NULL OR customer_segment_id = $13)
AND ($14::uuid IS NULL OR broker_id = $14)"""

LIVE, ARCHIVED = "deleted_at IS NULL", "deleted_at IS NOT NULL"

# sort -> (ORDER BY, the keyset condition after the cursor's row): $15 the row's sort value (as
# text), $16 its id; $17 the page size plus one.
SORTS = {
    "-updated_at": ("updated_at DESC, id DESC", "(updated_at, id) < ($15::text::timestamptz, $16)"),
    "updated_at": ("updated_at, id", "(updated_at, id) > ($15::text::timestamptz, $16)"),
    "-created_at": ("created_at DESC, id DESC", "(created_at, id) < ($15::text::timestamptz, $16)"),
    "created_at": ("created_at, id", "(created_at, id) > ($15::text::timestamptz, $16)"),
    "name": ("name, id", "(name, id) > ($15::text, $16)"),
    "-name": ("name DESC, id DESC", "(name, id) < ($15::text, $16)"),
}


def list_clients(sort: str, archived: bool) -> str:
    order, after = SORTS[sort]
    return f"""
SELECT {COLUMNS} FROM clients
WHERE {ARCHIVED if archived else LIVE} AND {FILTERS}
AND ($16::uuid IS NULL OR {after})
ORDER BY {order} LIMIT $17"""


def count_clients(archived: bool) -> str:
    """Matches, counted up to $15 (one past the exact limit: more means estimate)."""
    return f"""
SELECT count(*) FROM (SELECT 1 FROM clients
WHERE {ARCHIVED if archived else LIVE} AND {FILTERS} LIMIT $15) m"""


# The store's live clients, of one status ($2) or all (migration 0023's counters): the total of
# the list without a filter or with only a status.
LIVE_CLIENTS = """
SELECT coalesce(sum(clients), 0)::int FROM store_live_clients
WHERE store_id = $1 AND ($2::text IS NULL OR status = $2)"""


def estimate_clients(archived: bool) -> str:
    """The planner's estimate of the matches (EXPLAIN, not run): past the exact limit."""
    return f"""
EXPLAIN (FORMAT JSON) SELECT 1 FROM clients
WHERE {ARCHIVED if archived else LIVE} AND {FILTERS}"""


CLIENT = f"SELECT {COLUMNS} FROM clients WHERE id = $1 AND store_id = $2"
# The timeline and the audit of a client of another store (or of none) are 404, not empty.
CLIENT_EXISTS = "SELECT true FROM clients WHERE id = $1 AND store_id = $2"

# Live clients per segment (VIP: is_vip), and all of them.
SEGMENTS = """
SELECT count(*) FILTER (WHERE segment = 'new') AS new,
       count(*) FILTER (WHERE segment = 'returning') AS returning,
       count(*) FILTER (WHERE segment = 'loyal') AS loyal,
       count(*) FILTER (WHERE is_vip) AS vip,
       count(*) FILTER (WHERE segment = 'at_risk') AS at_risk,
       count(*) AS total
FROM clients WHERE store_id = $1 AND deleted_at IS NULL"""

# A client's addresses: billing then shipping, each type's default first.
ADDRESSES = """
SELECT id, type, is_default, first_name, last_name, company, address1, address2, city, state,
       pincode, country, phone, source, created_at, updated_at
FROM client_addresses WHERE client_id = $1 AND store_id = $2
ORDER BY type, is_default DESC, created_at, id"""

# A client's orders, newest first ($3 how many).
ORDERS = """
SELECT order_id, currency, total_minor, refunded_minor, placed_at, paid_at, cancelled_at,
       updated_at,
       CASE WHEN cancelled_at IS NOT NULL THEN 'cancelled'
            WHEN refunded_minor > 0 THEN 'refunded'
            WHEN paid_at IS NOT NULL THEN 'paid' ELSE 'placed' END AS status
FROM orders WHERE client_id = $1 AND store_id = $2
ORDER BY placed_at DESC, order_id LIMIT $3"""

# Autocomplete: $2 a LIKE prefix pattern, $3 how many.
TAGS = """
SELECT tag, sum(clients)::int AS clients FROM store_tags
WHERE store_id = $1 AND tag LIKE $2
GROUP BY tag HAVING sum(clients) > 0
ORDER BY 2 DESC, tag LIMIT $3"""

# The timeline: touches, messages, audit entries, attestations and order events, newest first,
# keyset on (at, kind, ref) after $3 $4 $5; $6 the page size plus one. Only the client's
# store's ($2) rows.
TIMELINE = """
SELECT * FROM (
    (SELECT t.at, 'touch' AS kind, t.request_id AS ref,
            jsonb_build_object('source', t.source_label, 'request_id', t.request_id,
                               'outcome', t.outcome, 'duplicate', t.duplicate,
                               'external_id', t.external_id) AS detail
     FROM client_touches t WHERE t.client_id = $1 AND t.store_id = $2
       AND ($5::text IS NULL OR (t.at, 'touch', t.request_id) < ($3, $4, $5))
     ORDER BY t.at DESC, t.request_id DESC LIMIT $6)
    UNION ALL
    (SELECT m.created_at, 'message', m.id::text,
            jsonb_build_object('message_id', m.id, 'channel', m.channel,
                               'direction', m.direction, 'state', m.state,
                               'subject', m.subject)
     FROM messages m WHERE m.client_id = $1 AND m.store_id = $2
       AND ($5::text IS NULL OR (m.created_at, 'message', m.id::text) < ($3, $4, $5))
     ORDER BY m.created_at DESC, m.id::text DESC LIMIT $6)
    UNION ALL
    (SELECT a.at, 'audit', lpad(a.seq::text, 20, '0'),
            jsonb_build_object('action', a.action, 'actor_type', a.actor_type,
                               'actor_name', a.actor_name, 'fields', (
                                   SELECT coalesce(jsonb_agg(k ORDER BY k), '[]')
                                   FROM jsonb_object_keys(a.changes) k),
                               'command_id', a.command_id)
     FROM audit_log a WHERE a.client_id = $1 AND a.store_id = $2
       AND ($5::text IS NULL OR (a.at, 'audit', lpad(a.seq::text, 20, '0')) < ($3, $4, $5))
     ORDER BY a.at DESC, a.seq DESC LIMIT $6)
    UNION ALL
    (SELECT t.captured_at, 'attestation', t.id::text,
            jsonb_build_object('attestation_id', t.id, 'version', t.version,
                               'source', t.source, 'actor_name', t.actor_name)
     FROM attestations t WHERE t.client_id = $1 AND t.store_id = $2
       AND ($5::text IS NULL OR (t.captured_at, 'attestation', t.id::text) < ($3, $4, $5))
     ORDER BY t.captured_at DESC, t.id::text DESC LIMIT $6)
    UNION ALL
    (SELECT o.occurred_at, 'order', o.order_id || '|' || o.type,
            jsonb_build_object('order_id', o.order_id, 'event', o.type,
                               'amount_minor', o.amount_minor, 'currency', o.currency)
     FROM order_events o WHERE o.client_id = $1 AND o.store_id = $2
       AND ($5::text IS NULL
            OR (o.occurred_at, 'order', o.order_id || '|' || o.type) < ($3, $4, $5))
     ORDER BY o.occurred_at DESC, o.order_id || '|' || o.type DESC LIMIT $6)
) items ORDER BY at DESC, kind DESC, ref DESC LIMIT $6"""

# The audit log of one client, newest first; $3 the seq to go below, $4 the page size plus one.
AUDIT = """
SELECT seq, at, actor_type, actor_id, actor_name, action, changes, client_version, command_id
FROM audit_log
WHERE client_id = $1 AND store_id = $2 AND ($3::bigint IS NULL OR seq < $3)
ORDER BY seq DESC LIMIT $4"""



# A cell a spreadsheet would run as a formula (=, +, -, @, tab or CR first) gets a leading '
# (OWASP's guard against CSV injection); the importer takes it off again, so the round trip
# holds. E.164 phones start with +: they carry it too, which also keeps Excel from making them
# numbers.
ADDRESS_COLUMNS = ("address1", "address2", "city", "state", "pincode", "country")
# How each import column (schemas.imports.COLUMNS) is exported: `c` the client, `a` its default
# shipping address.
EXPRESSIONS = {"tags": "array_to_string(c.tags, ', ')",
               "external_id": "c.source_external_id",
               "accepts_marketing": "CASE WHEN c.accepts_marketing THEN 'true' ELSE 'false' END",
               **{f: f"a.{f}" for f in ADDRESS_COLUMNS},
               **{f: f"c.{f}::text" for f in ("date_of_birth", "customer_since",
                                               "resale_certificate_expires_on")},
               **{f: f"CASE WHEN c.{f} THEN 'true' ELSE 'false' END"
                  for f in ("tax_exempt", "is_consignor")}}
EXPORTED = tuple((EXPRESSIONS.get(field, f"c.{field}"), header) for field, header in IMPORT_COLUMNS)


def _guarded(expr: str, header: str) -> str:
    return (f"CASE WHEN left({expr}, 1) IN ('=', '+', '-', '@', chr(9), chr(13)) "
            f"THEN '''' || {expr} ELSE {expr} END AS \"{header}\"")


def export_clients(archived: bool) -> str:
    """The current filter (the list's $1-$14) as CSV, under the import template's headers
    (schemas.imports.COLUMNS: the importer maps them back to the same fields), oldest first."""
    columns = ",\n       ".join(_guarded(expr, header) for expr, header in EXPORTED)
    return f"""
SELECT {columns}
FROM (SELECT * FROM clients WHERE {ARCHIVED if archived else LIVE} AND {FILTERS}) c
LEFT JOIN client_addresses a ON a.client_id = c.id AND a.type = 'shipping' AND a.is_default
ORDER BY c.created_at, c.id"""

# Possible duplicates of a client ($2) in its store ($1): live clients with its name ($3) case
# and accents aside, or its phone ($4).
# Each branch on its own index: one OR over both let the planner pick the store's created_at
# index and call name_key() on every client of a store its statistics had not seen yet (17 ms a
# create for a 5,000-client store, growing with it: 38 of 40 s of database time in bench.http;
# now 0.3 ms).
POSSIBLE_DUPLICATES = """
SELECT id AS client_id, name, phone, reason FROM (
    SELECT id, name, phone, created_at, 'name' AS reason FROM clients
    WHERE store_id = $1 AND deleted_at IS NULL AND name_key(name) = name_key($3)
    UNION ALL
    SELECT id, name, phone, created_at, 'phone' FROM clients
    WHERE store_id = $1 AND deleted_at IS NULL AND $4::text IS NOT NULL AND phone = $4
      AND name_key(name) IS DISTINCT FROM name_key($3)
) d
WHERE id <> $2
ORDER BY created_at, id
LIMIT 10"""

# A client's notes log, newest first ($3 how many).
NOTES = """
SELECT id, text, author_type, author_id, author_name, created_at, updated_at
FROM client_notes WHERE client_id = $1 AND store_id = $2
ORDER BY created_at DESC, id DESC LIMIT $3"""

# A client account's contacts, each with the account's status; its price overrides.
CONTACTS = """
SELECT k.id, k.email, k.name, k.role, c.status AS account_status, k.invited_at, k.updated_at
FROM client_contacts k JOIN clients c ON c.id = k.client_id
WHERE k.client_id = $1 AND k.store_id = $2 ORDER BY k.invited_at, k.id"""
PRICE_OVERRIDES = """
SELECT product_id, price_minor, currency, updated_at FROM price_overrides
WHERE client_id = $1 AND store_id = $2 ORDER BY product_id"""

# A store's master data of one kind, by name; the clients that use an entry.
MASTER_DATA = """
SELECT id, kind, name, created_at, updated_at FROM master_data
WHERE store_id = $1 AND kind = $2 ORDER BY name_key, id"""
MASTER_ENTRY = "SELECT kind FROM master_data WHERE id = $1 AND store_id = $2 AND kind = $3"

"""SQL of the resolver. Every statement takes whole batches as arrays (one round trip each).

Per-row arrays and maps (tags, external ids) travel as JSON text, one string per row: unnest()
of a text[][] would flatten it, and asyncpg reads a list of lists as a 2-D array.
"""

# The resolver's transactions run its statements on generic plans, planned once per connection
# (and again whenever ANALYZE changes a table's statistics) instead of at every execution as the
# pool's sessions do (shared/db.py): a batch of one record is nine statements, and each spent more
# time being planned than running (the email lookup 0.77 ms of planning, 0.36 ms of execution,
# EXPLAIN on the tests' database; every statement on `clients` weighs its 21 partial indexes).
# `auto` would not do it: unnest()'s default of 100 rows makes the generic plan look dearer than
# the custom one for a single key. Safe here as it is not for the list's queries: each statement
# below has one shape whatever the batch (index lookups joined to unnest), with no optional
# filters for a custom plan to fold away. Measured, alternating: a one-record batch 4.65-5.93 ms
# instead of 6.43-7.15 (best of five rounds of 100); bench.http 10 concurrent 157/187 against
# 133/138 req/s (50 concurrent 325/390 against 332/323); 10,000-row imports into a fresh database
# and 30,000-record ingest runs within their noise of each other.
GENERIC_PLANS = "SET LOCAL plan_cache_mode = force_generic_plan"

# A batch's external ids, locked for its transaction before anything is looked up. Two records
# of one external id with different emails land on different partitions, hence on different
# workers: without the lock both missed the other's uncommitted mapping, and the loser's whole
# batch was rolled back and redone (bench.ingest: 76 of 215 batches, a third of the database's
# time). The two-key form: a key space of its own, apart from every single-key advisory lock.
#
# First without waiting (TRY_LOCK_EXTERNAL_IDS answers the ids another transaction holds: their
# commands wait for a second transaction, and the rest of the batch goes on), then, for those,
# waiting, in one order so that two batches never wait on each other crosswise.
TRY_LOCK_EXTERNAL_IDS = """
WITH keys AS (
    SELECT key_id, external_id, hashtext(key_id::text || '/' || external_id) AS k
    FROM unnest($1::uuid[], $2::text[]) AS t(key_id, external_id)
), busy AS (
    SELECT k FROM (SELECT DISTINCT k FROM keys ORDER BY k) s
    WHERE NOT pg_try_advisory_xact_lock(1, k)
)
SELECT key_id, external_id FROM keys WHERE k IN (SELECT k FROM busy)"""

LOCK_EXTERNAL_IDS = """
SELECT count(pg_advisory_xact_lock(1, k)) FROM (
    SELECT DISTINCT hashtext(key_id::text || '/' || external_id) AS k
    FROM unnest($1::uuid[], $2::text[]) AS t(key_id, external_id) ORDER BY k) s"""

# A request is known by its store, the key that sent it (none: the nil scope) and its id.
DONE_REQUESTS = """
SELECT r.store_id, r.integration_key_id, r.request_id, r.client_id, r.outcome, r.duplicate
FROM client_touches r
JOIN unnest($1::uuid[], $2::uuid[], $3::text[]) AS q(store_id, key_id, request_id)
  ON r.store_id = q.store_id AND r.request_id = q.request_id
 AND r.request_scope = coalesce(q.key_id, '00000000-0000-0000-0000-000000000000'::uuid)"""

BY_EXTERNAL_ID = """
SELECT e.integration_key_id, e.external_id, e.client_id
FROM client_external_ids e
JOIN unnest($1::uuid[], $2::text[]) AS q(key_id, external_id)
  ON e.integration_key_id = q.key_id AND e.external_id = q.external_id
JOIN clients c ON c.id = e.client_id AND c.deleted_at IS NULL"""

# The live client with the email; and, for an email only a merged client holds, the client it
# was merged into (`merged`: true). Two branches, each on its own partial index.
BY_EMAIL = """
SELECT c.id, c.store_id, c.email_key, false AS merged
FROM clients c
JOIN unnest($1::uuid[], $2::text[]) AS q(store_id, email_key)
  ON c.store_id = q.store_id AND c.email_key = q.email_key
WHERE c.deleted_at IS NULL
UNION ALL
SELECT p.id, c.store_id, c.email_key, true
FROM clients c
JOIN unnest($1::uuid[], $2::text[]) AS q(store_id, email_key)
  ON c.store_id = q.store_id AND c.email_key = q.email_key
JOIN clients p ON p.id = c.merged_into AND p.deleted_at IS NULL
WHERE c.merged_into IS NOT NULL
ORDER BY merged, id"""

# The matched clients as committed, without a lock: most matches change nothing (a repeat
# customer, a duplicate record), and only the clients a batch changes are locked (LOCK_CLIENTS).
MATCHED_CLIENTS = """
SELECT * FROM clients WHERE id = ANY($1::uuid[]) AND deleted_at IS NULL ORDER BY id"""

# The whole row, again and locked: a change's event carries the client's snapshot. NO KEY UPDATE,
# as the UPDATE itself takes: it still orders the writers of a row, and lets through the key-share
# locks of rows that refer to the client (another transaction's touches, orders, addresses).
LOCK_CLIENTS = """
SELECT * FROM clients
WHERE id = ANY($1::uuid[]) AND deleted_at IS NULL
ORDER BY id FOR NO KEY UPDATE"""

# How many of the clients matched without a lock are still live, asked after this transaction's
# touches and external ids referred to them: those rows' foreign keys hold a key-share lock on
# each client until commit, which an archive or a merge (FOR UPDATE) waits for; one that came
# before is seen here.
STILL_LIVE = "SELECT count(*) FROM clients WHERE id = ANY($1::uuid[]) AND deleted_at IS NULL"

INSERT_CLIENTS = """
INSERT INTO clients (id, store_id, name, first_name, last_name, email, email_key, phone,
       company, type, tags, notes, external_ids, source_label, source_external_id,
       source_integration_key_id, created_at, updated_at, accepts_marketing,
       marketing_consent_at, marketing_consent_source, date_of_birth, allergies,
       customer_since, preferred_contact, discovery_source, referral_details, instagram,
       facebook, currency, qbo_id, wholesale_terms, tax_exempt, resale_certificate,
       resale_certificate_expires_on, is_consignor, consignor_code)
SELECT u.id, u.store_id, u.name, u.first_name, u.last_name, u.email, u.email_key, u.phone,
       u.company, u.type, ARRAY(SELECT jsonb_array_elements_text(u.tags::jsonb)), u.notes,
       u.external_ids::jsonb, u.source_label, u.source_external_id, u.source_integration_key_id,
       u.created_at, u.updated_at, u.accepts_marketing, u.marketing_consent_at,
       u.marketing_consent_source, u.date_of_birth, u.allergies, u.customer_since,
       u.preferred_contact, u.discovery_source, u.referral_details, u.instagram, u.facebook,
       u.currency, u.qbo_id, u.wholesale_terms, u.tax_exempt, u.resale_certificate,
       u.resale_certificate_expires_on, u.is_consignor, u.consignor_code
FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
            $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[],
            $14::text[], $15::text[], $16::uuid[], $17::timestamptz[], $18::timestamptz[],
            $19::bool[], $20::timestamptz[], $21::text[], $22::date[], $23::text[],
            $24::date[], $25::text[], $26::text[], $27::text[], $28::text[], $29::text[],
            $30::text[], $31::text[], $32::text[], $33::bool[], $34::text[], $35::date[],
            $36::bool[], $37::text[])
  AS u(id, store_id, name, first_name, last_name, email, email_key, phone, company, type, tags,
       notes, external_ids, source_label, source_external_id, source_integration_key_id,
       created_at, updated_at, accepts_marketing, marketing_consent_at,
       marketing_consent_source, date_of_birth, allergies, customer_since, preferred_contact,
       discovery_source, referral_details, instagram, facebook, currency, qbo_id,
       wholesale_terms, tax_exempt, resale_certificate, resale_certificate_expires_on,
       is_consignor, consignor_code)
ON CONFLICT (store_id, email_key) WHERE deleted_at IS NULL AND email_key IS NOT NULL DO NOTHING
RETURNING id"""

UPDATE_CLIENTS = """
UPDATE clients c
SET name = u.name, first_name = u.first_name, last_name = u.last_name, email = u.email,
    email_key = u.email_key, phone = u.phone, company = u.company, type = u.type,
    tags = ARRAY(SELECT jsonb_array_elements_text(u.tags::jsonb)), notes = u.notes,
    external_ids = u.external_ids::jsonb, updated_at = u.updated_at, version = u.version,
    accepts_marketing = u.accepts_marketing, marketing_consent_at = u.marketing_consent_at,
    marketing_consent_source = u.marketing_consent_source, date_of_birth = u.date_of_birth,
    allergies = u.allergies, customer_since = u.customer_since,
    preferred_contact = u.preferred_contact, discovery_source = u.discovery_source,
    referral_details = u.referral_details, instagram = u.instagram, facebook = u.facebook,
    currency = u.currency, qbo_id = u.qbo_id, wholesale_terms = u.wholesale_terms,
    tax_exempt = u.tax_exempt, resale_certificate = u.resale_certificate,
    resale_certificate_expires_on = u.resale_certificate_expires_on,
    is_consignor = u.is_consignor, consignor_code = u.consignor_code
FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
            $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::timestamptz[],
            $14::int[], $15::bool[], $16::timestamptz[], $17::text[], $18::date[], $19::text[],
            $20::date[], $21::text[], $22::text[], $23::text[], $24::text[], $25::text[],
            $26::text[], $27::text[], $28::text[], $29::bool[], $30::text[], $31::date[],
            $32::bool[], $33::text[])
  AS u(id, name, first_name, last_name, email, email_key, phone, company, type, tags, notes,
       external_ids, updated_at, version, accepts_marketing, marketing_consent_at,
       marketing_consent_source, date_of_birth, allergies, customer_since, preferred_contact,
       discovery_source, referral_details, instagram, facebook, currency, qbo_id,
       wholesale_terms, tax_exempt, resale_certificate, resale_certificate_expires_on,
       is_consignor, consignor_code)
WHERE c.id = u.id"""

# Invariant 9, one live client per (integration key, external id): a mapping is never taken from
# a live client. New mappings are inserted; a conflict waits for the other transaction, and the
# rows not inserted go to REPOINT_EXTERNAL_IDS, a new statement that sees what it committed.
ATTACH_EXTERNAL_IDS = """
INSERT INTO client_external_ids (integration_key_id, external_id, client_id)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[]) ORDER BY 1, 2
ON CONFLICT (integration_key_id, external_id) DO NOTHING
RETURNING integration_key_id, external_id"""

# Moves a mapping whose client is archived; one already ours stays. Rows not returned are held
# by another live client: the batch lost a race and is resolved again.
REPOINT_EXTERNAL_IDS = """
UPDATE client_external_ids e SET client_id = q.client_id
FROM unnest($1::uuid[], $2::text[], $3::uuid[]) AS q(key_id, external_id, client_id)
WHERE e.integration_key_id = q.key_id AND e.external_id = q.external_id
  AND (e.client_id = q.client_id
       OR NOT EXISTS (SELECT 1 FROM clients c WHERE c.id = e.client_id AND c.deleted_at IS NULL))
RETURNING e.integration_key_id, e.external_id"""

INSERT_TOUCHES = """
INSERT INTO client_touches (store_id, request_id, client_id, outcome, duplicate, source_label,
                            integration_key_id, external_id, at)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::text[], $5::bool[], $6::text[],
                     $7::uuid[], $8::text[], $9::timestamptz[])"""

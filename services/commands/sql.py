"""The commands service's SQL."""

# A command's recorded result (after another transaction recorded it first).
DONE = "SELECT result FROM client_commands WHERE store_id = $1 AND command_id = $2"

EMAIL_HOLDER = """
SELECT id FROM clients
WHERE store_id = $1 AND email_key = $2 AND deleted_at IS NULL AND id <> $3"""

# batch.py: the recorded results, the clients locked in id order, then every change of the
# batch in one statement each.
DONE_MANY = """
SELECT store_id, command_id, result FROM client_commands
WHERE (store_id, command_id) IN (SELECT * FROM unnest($1::uuid[], $2::text[]))"""

# FOR UPDATE, not NO KEY UPDATE: an archive or a merge must wait for (and be waited for by) the
# key-share locks of rows that refer to the client; the resolver's unlocked matches rely on it
# (shared/resolver_sql.STILL_LIVE), and a merge moves every such row.
LOCK_CLIENTS = """
SELECT c.*, s.region FROM clients c JOIN stores s ON s.id = c.store_id
WHERE c.id = ANY ($1::uuid[])
ORDER BY c.id FOR UPDATE OF c"""

UPDATE_CLIENTS = """
UPDATE clients c
SET name = u.name, first_name = u.first_name, last_name = u.last_name, email = u.email,
    email_key = u.email_key, phone = u.phone, company = u.company, notes = u.notes,
    type = u.type, tags = ARRAY(SELECT jsonb_array_elements_text(u.tags::jsonb)),
    status = u.status, credit_limit = u.credit_limit, deleted_at = u.deleted_at,
    version = u.version, updated_at = u.updated_at, accepts_marketing = u.accepts_marketing,
    marketing_consent_at = u.marketing_consent_at,
    marketing_consent_source = u.marketing_consent_source,
    external_ids = u.external_ids::jsonb, total_orders = u.total_orders,
    total_spent_minor = u.total_spent_minor, first_order_at = u.first_order_at,
    last_order_at = u.last_order_at, is_vip = u.is_vip, segment = u.segment,
    merged_into = u.merged_into, merged_at = u.merged_at, date_of_birth = u.date_of_birth,
    allergies = u.allergies, wholesale_terms = u.wholesale_terms, tax_exempt = u.tax_exempt,
    resale_certificate = u.resale_certificate,
    resale_certificate_expires_on = u.resale_certificate_expires_on,
    customer_since = u.customer_since, preferred_contact = u.preferred_contact,
    discovery_source = u.discovery_source, referral_details = u.referral_details,
    is_consignor = u.is_consignor, consignor_code = u.consignor_code,
    consigned_items = u.consigned_items, instagram = u.instagram, facebook = u.facebook,
    parent_id = u.parent_id, country = u.country, currency = u.currency, qbo_id = u.qbo_id,
    customer_type_id = u.customer_type_id, customer_segment_id = u.customer_segment_id,
    broker_id = u.broker_id
FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
            $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::numeric[],
            $14::timestamptz[], $15::int[], $16::timestamptz[], $17::bool[], $18::timestamptz[],
            $19::text[], $20::text[], $21::int[], $22::bigint[], $23::timestamptz[],
            $24::timestamptz[], $25::bool[], $26::text[], $27::uuid[], $28::timestamptz[],
            $29::date[], $30::text[], $31::text[], $32::bool[], $33::text[], $34::date[],
            $35::date[], $36::text[], $37::text[], $38::text[], $39::bool[], $40::text[],
            $41::int[], $42::text[], $43::text[], $44::uuid[], $45::text[], $46::text[],
            $47::text[], $48::uuid[], $49::uuid[], $50::uuid[])
  AS u(id, name, first_name, last_name, email, email_key, phone, company, notes, type, tags,
       status, credit_limit, deleted_at, version, updated_at, accepts_marketing,
       marketing_consent_at, marketing_consent_source, external_ids, total_orders,
       total_spent_minor, first_order_at, last_order_at, is_vip, segment, merged_into,
       merged_at, date_of_birth, allergies, wholesale_terms, tax_exempt, resale_certificate,
       resale_certificate_expires_on, customer_since, preferred_contact, discovery_source,
       referral_details, is_consignor, consignor_code, consigned_items, instagram, facebook,
       parent_id, country, currency, qbo_id, customer_type_id, customer_segment_id, broker_id)
WHERE c.id = u.id"""

RECORD_MANY = """
INSERT INTO client_commands (store_id, command_id, result, client_id)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::jsonb[], $4::uuid[])"""

# Erasure requests (erasure.py).
PENDING_ERASURE = """
SELECT id FROM erasure_requests
WHERE client_id = $1 AND cancelled_at IS NULL AND done_at IS NULL"""
REQUEST_ERASURE = """
INSERT INTO erasure_requests (id, store_id, client_id, reason, requested_by_type,
                              requested_by_id, requested_by_name, command_id, requested_at,
                              due_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"""
ERASURE_FOR_UPDATE = """
SELECT id, due_at, cancelled_at, done_at FROM erasure_requests
WHERE id = $1 AND client_id = $2 FOR UPDATE"""
CANCEL_ERASURE = """
UPDATE erasure_requests SET cancelled_at = $2, cancelled_by_name = $3 WHERE id = $1"""

# Addresses (addresses.py). The first address of a type is its default.
ADDRESS_COLUMNS = """
id, store_id, client_id, type, is_default, first_name, last_name, company, address1,
address2, city, state, pincode, country, phone"""
ADD_ADDRESS = f"""
INSERT INTO client_addresses (id, store_id, client_id, type, is_default, first_name,
                              last_name, company, address1, address2, city, state, pincode,
                              country, phone, fingerprint, source, created_at, updated_at)
SELECT $1, $2, $3, $4,
       NOT EXISTS (SELECT 1 FROM client_addresses d
                   WHERE d.client_id = $3 AND d.type = $4 AND d.is_default),
       $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $17
ON CONFLICT (client_id, type, fingerprint) DO NOTHING
RETURNING {ADDRESS_COLUMNS}"""
EQUAL_ADDRESS = f"""
SELECT {ADDRESS_COLUMNS} FROM client_addresses
WHERE client_id = $1 AND type = $2 AND fingerprint = $3"""
ADDRESS_FOR_UPDATE = f"""
SELECT {ADDRESS_COLUMNS} FROM client_addresses WHERE id = $1 AND client_id = $2 FOR UPDATE"""
REMOVE_ADDRESS = "DELETE FROM client_addresses WHERE id = $1"
UPDATE_ADDRESS = f"""
UPDATE client_addresses
SET type = $2, first_name = $3, last_name = $4, company = $5, address1 = $6, address2 = $7,
    city = $8, state = $9, pincode = $10, country = $11, phone = $12, fingerprint = $13,
    updated_at = $14,
    is_default = is_default AND type = $2   -- moved to the other type: not its default
WHERE id = $1
RETURNING {ADDRESS_COLUMNS}"""
# The old default of the type (if any) stops being one; its id.
UNSET_DEFAULT = """
UPDATE client_addresses SET is_default = false, updated_at = $4
WHERE client_id = $1 AND type = $2 AND is_default AND id <> $3
RETURNING id"""
SET_DEFAULT = "UPDATE client_addresses SET is_default = true, updated_at = $2 WHERE id = $1"

# Merge (merge.py): everything that points at the secondary ($2) re-pointed at the primary
# ($1), in one statement; the rows moved, per table. Each row is touched by one part only.
MERGE_MOVE = """
WITH threads AS (
    UPDATE threads t SET client_id = $1,
        status = CASE WHEN t.status = 'open' AND EXISTS (
                          SELECT 1 FROM threads p WHERE p.client_id = $1 AND p.status = 'open')
                      THEN 'closed' ELSE t.status END
    WHERE t.client_id = $2 RETURNING 1
), messages AS (
    UPDATE messages SET client_id = $1 WHERE client_id = $2 RETURNING 1
), external_ids AS (
    UPDATE client_external_ids SET client_id = $1 WHERE client_id = $2 RETURNING 1
), touches AS (
    UPDATE client_touches SET client_id = $1 WHERE client_id = $2 RETURNING 1
), attestations AS (
    UPDATE attestations SET client_id = $1 WHERE client_id = $2 RETURNING 1
), equal AS (  -- the secondary's addresses the primary has an equal one of
    SELECT s.id FROM client_addresses s
    JOIN client_addresses p ON p.client_id = $1 AND p.type = s.type
                           AND p.fingerprint = s.fingerprint
    WHERE s.client_id = $2
), equal_addresses AS (
    DELETE FROM client_addresses WHERE id IN (SELECT id FROM equal) RETURNING 1
), addresses AS (
    UPDATE client_addresses s SET client_id = $1, updated_at = $3,
        is_default = s.is_default AND NOT EXISTS (
            SELECT 1 FROM client_addresses p
            WHERE p.client_id = $1 AND p.type = s.type AND p.is_default)
    WHERE s.client_id = $2 AND s.id NOT IN (SELECT id FROM equal)
    RETURNING 1
), orders AS (
    UPDATE orders SET client_id = $1, updated_at = $3 WHERE client_id = $2 RETURNING 1
), order_events AS (
    UPDATE order_events SET client_id = $1 WHERE client_id = $2 RETURNING 1
), notes AS (
    UPDATE client_notes SET client_id = $1 WHERE client_id = $2 RETURNING 1
), contacts AS (  -- an email the primary has a contact for stays the primary's
    UPDATE client_contacts s SET client_id = $1
    WHERE s.client_id = $2 AND NOT EXISTS (
        SELECT 1 FROM client_contacts p WHERE p.client_id = $1 AND p.email_key = s.email_key)
    RETURNING 1
), prices AS (  -- so does a product the primary has a price for
    UPDATE price_overrides s SET client_id = $1
    WHERE s.client_id = $2 AND NOT EXISTS (
        SELECT 1 FROM price_overrides p WHERE p.client_id = $1 AND p.product_id = s.product_id)
    RETURNING 1
), merged_earlier AS (
    UPDATE clients SET merged_into = $1 WHERE merged_into = $2 RETURNING 1
)
SELECT (SELECT count(*) FROM threads) AS threads,
       (SELECT count(*) FROM messages) AS messages,
       (SELECT count(*) FROM external_ids) AS external_ids,
       (SELECT count(*) FROM touches) AS touches,
       (SELECT count(*) FROM attestations) AS attestations,
       (SELECT count(*) FROM addresses) AS addresses,
       (SELECT count(*) FROM equal_addresses) AS equal_addresses_dropped,
       (SELECT count(*) FROM orders) AS orders,
       (SELECT count(*) FROM order_events) AS order_events,
       (SELECT count(*) FROM notes) AS notes,
       (SELECT count(*) FROM contacts) AS contacts,
       (SELECT count(*) FROM prices) AS price_overrides,
       (SELECT count(*) FROM merged_earlier) AS merged_earlier"""

# The notes log (notes.py).
ADD_NOTE = """
INSERT INTO client_notes (id, store_id, client_id, text, author_type, author_id, author_name,
                          created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)"""
NOTE_FOR_UPDATE = "SELECT id, text FROM client_notes WHERE id = $1 AND client_id = $2 FOR UPDATE"
EDIT_NOTE = "UPDATE client_notes SET text = $2, updated_at = $3 WHERE id = $1"
REMOVE_NOTE = "DELETE FROM client_notes WHERE id = $1"

# A parent ($2) for a client ($1) of a store ($3): whether it is a client of the store, and
# whether the client is among its ancestors (or is it): a cycle. Hierarchy changes of a store
# take its advisory lock first, so two cannot make a cycle together.
HIERARCHY_LOCK = "SELECT pg_advisory_xact_lock(hashtextextended('hierarchy:' || $1::text, 0))"
PARENT_CHECK = """
WITH RECURSIVE up AS (
    SELECT id, parent_id, 1 AS depth FROM clients WHERE id = $2 AND store_id = $3
    UNION ALL
    SELECT c.id, c.parent_id, up.depth + 1 FROM clients c JOIN up ON c.id = up.parent_id
    WHERE up.depth < 1000
)
SELECT EXISTS (SELECT 1 FROM up) AS found, EXISTS (SELECT 1 FROM up WHERE id = $1) AS cycle"""

# B2B accounts (accounts.py). An email the account has already is not invited again.
INVITE_CONTACT = """
INSERT INTO client_contacts (id, store_id, client_id, email, email_key, name, role,
                             invited_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
ON CONFLICT (client_id, email_key) DO NOTHING
RETURNING id, email, name, role"""
CONTACT_BY_EMAIL = "SELECT id FROM client_contacts WHERE client_id = $1 AND email_key = $2"
CONTACT_FOR_UPDATE = """
SELECT id, email, name, role FROM client_contacts WHERE id = $1 AND client_id = $2 FOR UPDATE"""
REMOVE_CONTACT = "DELETE FROM client_contacts WHERE id = $1"
SET_CONTACT_ROLE = """
UPDATE client_contacts SET role = $2, updated_at = $3 WHERE id = $1
RETURNING id, email, name, role"""
PRICE_FOR_UPDATE = """
SELECT product_id, price_minor, currency FROM price_overrides
WHERE client_id = $1 AND product_id = $2 FOR UPDATE"""
SET_PRICE = """
INSERT INTO price_overrides (store_id, client_id, product_id, price_minor, currency, updated_at)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (client_id, product_id)
DO UPDATE SET price_minor = excluded.price_minor, currency = excluded.currency,
              updated_at = excluded.updated_at"""
REMOVE_PRICE = "DELETE FROM price_overrides WHERE client_id = $1 AND product_id = $2"

# Master data (master_data.py).
CREATE_MASTER = """
INSERT INTO master_data (id, store_id, kind, name, name_key, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $6)"""
MASTER_FOR_UPDATE = """
SELECT id, name FROM master_data WHERE id = $1 AND store_id = $2 AND kind = $3 FOR UPDATE"""
MASTER_FOR_KEY_SHARE = """
SELECT id FROM master_data WHERE id = $1 AND store_id = $2 AND kind = $3 FOR KEY SHARE"""
MASTER_BY_NAME = """
SELECT id FROM master_data WHERE store_id = $1 AND kind = $2 AND name_key = $3"""
RENAME_MASTER = "UPDATE master_data SET name = $2, name_key = $3, updated_at = $4 WHERE id = $1"
DELETE_MASTER = "DELETE FROM master_data WHERE id = $1"
LOG_MASTER = """
INSERT INTO master_data_log (store_id, master_data_id, kind, at, actor_type, actor_id,
                             actor_name, action, changes, command_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"""

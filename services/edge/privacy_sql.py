"""The privacy routes' SQL: erasure requests, RUO settings and attestations, the bundle.
Everything is looked up within the principal's store ($2 or $1 as named)."""

ERASURE_COLUMNS = """
id, client_id, reason, requested_by_type, requested_by_id, requested_by_name, requested_at,
due_at, cancelled_at, cancelled_by_name, done_at, receipt"""

ERASURE = f"SELECT {ERASURE_COLUMNS} FROM erasure_requests WHERE id = $1 AND store_id = $2"
# $2 a status (pending | cancelled | done) or NULL for all; $3 how many.
ERASURES = f"""
SELECT {ERASURE_COLUMNS} FROM erasure_requests
WHERE store_id = $1 AND (
    $2::text IS NULL
    OR ($2 = 'pending' AND cancelled_at IS NULL AND done_at IS NULL)
    OR ($2 = 'cancelled' AND cancelled_at IS NOT NULL)
    OR ($2 = 'done' AND done_at IS NOT NULL))
ORDER BY requested_at DESC, id LIMIT $3"""
CLIENT_ERASURES = f"""
SELECT {ERASURE_COLUMNS} FROM erasure_requests
WHERE client_id = $1 AND store_id = $2 ORDER BY requested_at"""

RUO = "SELECT text, version, validity_days, updated_at FROM ruo_settings WHERE store_id = $1"
SET_RUO = """
INSERT INTO ruo_settings (store_id, text, version, validity_days, updated_at)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (store_id) DO UPDATE
SET text = excluded.text, version = excluded.version, validity_days = excluded.validity_days,
    updated_at = excluded.updated_at
RETURNING text, version, validity_days, updated_at"""

ATTESTATION_COLUMNS = """
id, client_id, text, version, captured_at, ip, user_agent, source, actor_name, recorded_at"""
ATTESTATIONS = f"""
SELECT {ATTESTATION_COLUMNS} FROM attestations
WHERE client_id = $1 AND store_id = $2 ORDER BY captured_at DESC, recorded_at DESC"""
ATTESTATIONS_BY_CAPTURE = f"""
SELECT a.store_id AS store_id, a.capture_id AS capture_id, {ATTESTATION_COLUMNS}
FROM attestations a
JOIN unnest($1::uuid[], $2::text[]) AS q(store_id, capture_id)
  ON a.store_id = q.store_id AND a.capture_id = q.capture_id"""

# The subject-access bundle: $1 the client, $2 its store.
BUNDLE_CLIENT = """
SELECT id, name, first_name, last_name, email, phone, company, type, status, credit_limit,
       tags, notes, external_ids, source_label, source_external_id, source_integration_key_id,
       created_at, updated_at, version, deleted_at AS archived_at, erased_at, date_of_birth,
       allergies, wholesale_terms, tax_exempt, resale_certificate,
       resale_certificate_expires_on, customer_since, preferred_contact, discovery_source,
       referral_details, is_consignor, consignor_code, consigned_items, instagram, facebook
FROM clients WHERE id = $1 AND store_id = $2"""
BUNDLE_EXTERNAL_IDS = """
SELECT e.integration_key_id, k.label AS integration_key_label, e.external_id
FROM client_external_ids e JOIN integration_keys k ON k.id = e.integration_key_id
WHERE e.client_id = $1 AND k.store_id = $2 ORDER BY k.label, e.external_id"""
BUNDLE_TOUCHES = """
SELECT at, source_label, request_id, outcome, duplicate, external_id FROM client_touches
WHERE client_id = $1 AND store_id = $2 ORDER BY at, request_id"""
BUNDLE_THREADS = """
SELECT id, channel, status, created_at, last_activity_at FROM threads
WHERE client_id = $1 AND store_id = $2 ORDER BY created_at, id"""
BUNDLE_MESSAGES = """
SELECT m.id, m.thread_id, m.channel, m.direction, m.state, m.subject, m.text, m.html,
       m.from_addr, m.to_addr, m.error, m.provider, m.provider_id, m.created_at, m.updated_at,
       coalesce((SELECT jsonb_agg(jsonb_build_object(
                    'provider', c.provider, 'status', c.status, 'state', c.state,
                    'received_at', c.received_at) ORDER BY c.seq)
                 FROM message_callbacks c WHERE c.message_id = m.id), '[]') AS delivery_states
FROM messages m WHERE m.client_id = $1 AND m.store_id = $2 ORDER BY m.created_at, m.id"""
BUNDLE_ORDERS = """
SELECT order_id, currency, total_minor, refunded_minor, placed_at, paid_at, cancelled_at,
       updated_at
FROM orders WHERE client_id = $1 AND store_id = $2 ORDER BY placed_at, order_id"""
BUNDLE_PAYMENTS = """
SELECT order_id, type, occurred_at, amount_minor, currency FROM order_events
WHERE client_id = $1 AND store_id = $2 AND type IN ('order.paid', 'order.refunded')
ORDER BY occurred_at, order_id"""
BUNDLE_ADDRESSES = """
SELECT id, type, is_default, first_name, last_name, company, address1, address2, city, state,
       pincode, country, phone, source, created_at, updated_at
FROM client_addresses WHERE client_id = $1 AND store_id = $2 ORDER BY type, created_at"""
BUNDLE_AUDIT = """
SELECT seq, at, actor_type, actor_id, actor_name, action, changes, client_version, command_id
FROM audit_log WHERE client_id = $1 AND store_id = $2 ORDER BY seq"""


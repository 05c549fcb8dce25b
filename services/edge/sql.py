# The recorded results of waiting requests, by (store, key, request id).
RESULTS_FOR_REQUESTS = """
SELECT r.store_id AS request_store, r.request_scope, r.request_id, r.outcome, r.duplicate,
       c.id, c.store_id, c.name, c.first_name, c.last_name, c.email, c.phone, c.company, c.type,
       c.tags, c.notes, c.external_ids, c.source_label, c.source_external_id,
       c.source_integration_key_id, c.created_at, c.updated_at, c.version,
       c.status, c.credit_limit, c.total_orders, c.total_spent_minor, c.avg_order_value_minor,
       c.first_order_at, c.last_order_at, c.is_vip, c.segment, c.accepts_marketing,
       c.marketing_consent_at, c.marketing_consent_source
FROM client_touches r
JOIN unnest($1::uuid[], $2::uuid[], $3::text[]) AS q(store_id, scope, request_id)
  ON r.store_id = q.store_id AND r.request_scope = q.scope AND r.request_id = q.request_id
JOIN clients c ON c.id = r.client_id"""

# Commands' recorded results (written by the commands service in each command's transaction).
COMMAND_RESULTS = """
SELECT r.store_id, r.command_id, r.result
FROM client_commands r
JOIN unnest($1::uuid[], $2::text[]) AS q(store_id, command_id)
  ON r.store_id = q.store_id AND r.command_id = q.command_id"""

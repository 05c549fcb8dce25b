RESULT_FOR_REQUEST = """
SELECT r.outcome, r.duplicate,
       c.id, c.store_id, c.name, c.first_name, c.last_name, c.email, c.phone, c.company, c.type,
       c.tags, c.notes, c.external_ids, c.source_label, c.source_external_id,
       c.source_integration_key_id, c.created_at, c.updated_at, c.version,
       c.status, c.credit_limit, c.total_orders, c.total_spent_minor, c.avg_order_value_minor,
       c.first_order_at, c.last_order_at, c.is_vip, c.segment, c.accepts_marketing,
       c.marketing_consent_at, c.marketing_consent_source
FROM client_touches r JOIN clients c ON c.id = r.client_id
WHERE r.store_id = $1 AND r.request_scope = $2 AND r.request_id = $3"""

# A command's recorded result (written by the commands service in the command's transaction).
COMMAND_RESULT = "SELECT result FROM client_commands WHERE store_id = $1 AND command_id = $2"

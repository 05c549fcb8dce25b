RESULT_FOR_REQUEST = """
SELECT r.outcome, r.duplicate,
       c.id, c.store_id, c.name, c.first_name, c.last_name, c.email, c.phone, c.company, c.type,
       c.tags, c.notes, c.external_ids, c.source_label, c.source_external_id,
       c.source_integration_key_id, c.created_at, c.updated_at, c.version,
       c.status, c.credit_limit
FROM client_touches r JOIN clients c ON c.id = r.client_id
WHERE r.store_id = $1 AND r.request_scope = $2 AND r.request_id = $3"""

# A command's recorded result (written by the commands service in the command's transaction).
COMMAND_RESULT = "SELECT result FROM client_commands WHERE store_id = $1 AND command_id = $2"

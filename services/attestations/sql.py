"""The attestations service's SQL."""

# The clients named by id: their store and whether they were erased.
CLIENTS = "SELECT id, store_id, erased_at FROM clients WHERE id = ANY ($1::uuid[])"

INSERT = """
INSERT INTO attestations (id, store_id, client_id, capture_id, text, version, captured_at, ip,
                          user_agent, source, actor_name)
SELECT gen_random_uuid(), * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[],
                                        $5::int[], $6::timestamptz[], $7::text[], $8::text[],
                                        $9::text[], $10::text[])
ON CONFLICT (store_id, capture_id) DO NOTHING"""

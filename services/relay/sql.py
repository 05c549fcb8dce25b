# One relay leads at a time (session advisory lock), so events leave in commit order per client.
LEADER_LOCK_KEY = 0x72656C6179  # "relay"
TRY_LEAD = "SELECT pg_try_advisory_lock($1)"

CLAIM = """
SELECT seq, event_id, topic, key, payload::text AS payload
FROM outbox ORDER BY seq LIMIT $1
FOR UPDATE SKIP LOCKED"""
DELETE = "DELETE FROM outbox WHERE seq = ANY($1::bigint[])"

"""The eraser's SQL."""

# One eraser leads at a time (session advisory lock), like the relay.
LEADER_LOCK_KEY = 0x6572617365  # "erase"
TRY_LEAD = "SELECT pg_try_advisory_lock($1)"

# The next due request (its cool-off over, not cancelled, not done) with its client, both
# locked for the erasure's transaction; $1 now.
CLAIM = """
SELECT r.id, r.store_id, r.client_id, r.command_id, r.requested_by_name
FROM erasure_requests r
WHERE r.cancelled_at IS NULL AND r.done_at IS NULL AND r.due_at <= $1
ORDER BY r.due_at LIMIT 1
FOR UPDATE OF r SKIP LOCKED"""
LOCK_CLIENT = "SELECT * FROM clients WHERE id = $1 FOR UPDATE"
DONE = "UPDATE erasure_requests SET done_at = $2, receipt = $3 WHERE id = $1"
# Seconds until the next request falls due (NULL: none pending); $1 now.
NEXT_DUE = """
SELECT extract(epoch FROM min(due_at) - $1) FROM erasure_requests
WHERE cancelled_at IS NULL AND done_at IS NULL"""

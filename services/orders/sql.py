"""The orders service's SQL."""

# The orders later events name: their client.
KNOWN = """
SELECT o.store_id, o.order_id, o.client_id FROM orders o
JOIN unnest($1::uuid[], $2::text[]) AS k(store_id, order_id) USING (store_id, order_id)"""

# The batch's clients that were merged into another, and that other one (as committed).
MERGED = """
SELECT id, merged_into FROM clients WHERE id = ANY ($1::uuid[]) AND merged_into IS NOT NULL"""

# The batch's clients, locked in id order (as the resolver and the commands lock), so that two
# batches, or a batch and an upsert, wait for each other instead of deadlocking. Taken after the
# batch's inserts, before anything that reads or changes rows already there. NO KEY UPDATE: the
# orders' foreign keys only share-lock the key, which this lets through.
LOCK_CLIENTS = """
SELECT id, merged_into FROM clients WHERE id = ANY ($1::uuid[])
ORDER BY id FOR NO KEY UPDATE"""

# Each event once: the ones this returns are new ($1-$7: store, order, type, occurred_at,
# client, amount, currency).
RECORD_EVENTS = """
INSERT INTO order_events (store_id, order_id, type, occurred_at, client_id, amount_minor,
                          currency)
SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[], $5::uuid[],
                     $6::bigint[], $7::text[])
ON CONFLICT DO NOTHING
RETURNING store_id, order_id, type, occurred_at, client_id, amount_minor, currency"""

# An order's state from its new events, in one statement: placed makes it (the first placed
# wins), paid and cancelled stamp it once, refunded raises what was refunded (never lowers).
APPLY = """
INSERT INTO orders AS o (store_id, order_id, client_id, currency, total_minor, refunded_minor,
                         placed_at, paid_at, cancelled_at, updated_at)
SELECT store_id, order_id, client_id, currency, total_minor, refunded_minor, placed_at,
       paid_at, cancelled_at, $11
FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::text[], $5::bigint[], $6::bigint[],
            $7::timestamptz[], $8::timestamptz[], $9::timestamptz[], $10::bool[])
     AS e(store_id, order_id, client_id, currency, total_minor, refunded_minor, placed_at,
          paid_at, cancelled_at, placed)
WHERE placed
ON CONFLICT (store_id, order_id) DO NOTHING"""

UPDATE_ORDERS = """
UPDATE orders o
SET paid_at = coalesce(o.paid_at, e.paid_at),
    cancelled_at = coalesce(o.cancelled_at, e.cancelled_at),
    refunded_minor = greatest(o.refunded_minor, coalesce(e.refunded_minor, 0)),
    updated_at = $6
FROM (SELECT store_id, order_id, min(paid_at) AS paid_at, min(cancelled_at) AS cancelled_at,
             max(refunded_minor) AS refunded_minor
      FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::timestamptz[], $5::bigint[])
           AS u(store_id, order_id, paid_at, cancelled_at, refunded_minor)
      GROUP BY store_id, order_id) e
WHERE o.store_id = e.store_id AND o.order_id = e.order_id"""

# The daily job: live clients whose segment time has moved ($1 now, $2-$5 the rules), in
# slices of $6 after the id $7 (each its own transaction); the rows as they are after.
MOVE_SEGMENTS = """
WITH due AS (
    SELECT id, segment AS before FROM clients
    WHERE deleted_at IS NULL AND total_orders > 0 AND id > $7
      AND segment IS DISTINCT FROM client_segment(total_orders, is_vip, last_order_at, $1,
                                                  $2, $3, $4, $5)
    ORDER BY id LIMIT $6
    FOR UPDATE SKIP LOCKED
)
UPDATE clients c
SET segment = client_segment(c.total_orders, c.is_vip, c.last_order_at, $1, $2, $3, $4, $5),
    version = c.version + 1, updated_at = $1
FROM due WHERE c.id = due.id
RETURNING c.*, due.before AS segment_before"""

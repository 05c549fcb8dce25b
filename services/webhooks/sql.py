"""The webhooks service's SQL. Every batch is one statement over unnest()ed arrays."""

WAKE_CHANNEL = "webhook_deliveries"

# One delivery per (endpoint, event) for every endpoint of the event's store subscribed to its
# type. A disabled endpoint's deliveries are kept as failed, for a replay after re-enabling.
# A redelivered event conflicts and changes nothing.
RECORD = """
WITH ev AS (
    SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::uuid[])
        AS t(event_id, store_id, type, body, client_id)
), matched AS (
    SELECT ev.*, e.id AS endpoint_id, e.disabled_at IS NOT NULL AS disabled
    FROM ev JOIN webhook_endpoints e ON e.store_id = ev.store_id
     AND (cardinality(e.event_types) = 0 OR ev.type = ANY (e.event_types))
), messages AS (
    INSERT INTO webhook_messages (event_id, store_id, type, body, client_id)
    SELECT DISTINCT ON (event_id) event_id, store_id, type, body, client_id FROM matched
    ON CONFLICT (event_id) DO NOTHING
)
INSERT INTO webhook_deliveries (endpoint_id, event_id, state, last_error, finished_at)
SELECT endpoint_id, event_id,
       CASE WHEN disabled THEN 'failed' ELSE 'pending' END,
       CASE WHEN disabled THEN 'endpoint disabled' END,
       CASE WHEN disabled THEN now() END
FROM matched
ON CONFLICT (endpoint_id, event_id) DO NOTHING
RETURNING state"""

# Due deliveries, oldest first per endpoint, at most $3 per endpoint and none for the endpoints
# in $2 (this dispatcher already holds as many of theirs as it may): one endpoint's backlog
# never fills a claim, and each probe is one index range. Claiming moves next_attempt_at past
# the lease: if this dispatcher dies, they fall due again.
CLAIM = """
WITH due AS (
    SELECT d.id FROM webhook_endpoints e CROSS JOIN LATERAL (
        SELECT id FROM webhook_deliveries
        WHERE endpoint_id = e.id AND state = 'pending' AND next_attempt_at <= now()
        ORDER BY next_attempt_at LIMIT $3
        FOR UPDATE SKIP LOCKED) d
    WHERE e.disabled_at IS NULL AND e.id <> ALL ($2::uuid[])
    LIMIT $1
)
UPDATE webhook_deliveries d SET next_attempt_at = now() + make_interval(secs => $4)
FROM due, webhook_endpoints e, webhook_messages m
WHERE d.id = due.id AND e.id = d.endpoint_id AND m.event_id = d.event_id
RETURNING d.id, d.endpoint_id, d.event_id, d.tries, e.url, e.secret,
          CASE WHEN e.previous_secret_until > now() THEN e.previous_secret END
              AS previous_secret,
          m.body"""

NEXT_DUE = """
SELECT extract(epoch FROM min(next_attempt_at) - now()) FROM webhook_deliveries
WHERE state = 'pending'"""

# Settling and disabling both touch an endpoint and its deliveries: both take the endpoint row
# first (settle: every endpoint of its batch, in id order), then deliveries, so they never wait
# on each other crosswise (seen as a deadlock between `webhook disable` and a settle).
# FOR NO KEY UPDATE, the lock an UPDATE of the endpoint takes: it still orders settle and
# disable, but does not wait for the consumer's uncommitted deliveries, whose foreign keys hold
# KEY SHARE on the endpoint (FOR UPDATE did: 1.4 ms a settle, waiting).
LOCK_ENDPOINTS = """
SELECT count(*) FROM (SELECT id FROM webhook_endpoints WHERE id = ANY ($1::uuid[])
                      ORDER BY id FOR NO KEY UPDATE) e"""

# Attempt outcomes: the delivery's new state (a delivery of an endpoint disabled meanwhile
# fails instead of being rescheduled), and the attempt appended to the log.
FINISH = """
WITH r AS (
    SELECT * FROM unnest($1::bigint[], $2::text[], $3::int[], $4::float8[], $5::text[],
                         $6::timestamptz[], $7::int[], $8::float8[], $9::text[])
        AS t(id, state, tries, delay_s, error, at, status_code, latency_ms, response)
), logged AS (
    INSERT INTO webhook_attempts (delivery_id, at, status_code, latency_ms, response, error)
    SELECT id, at, status_code, latency_ms, response, error FROM r
)
UPDATE webhook_deliveries d
SET state = CASE WHEN r.state = 'pending' AND e.disabled_at IS NOT NULL THEN 'failed'
                 ELSE r.state END,
    tries = r.tries,
    next_attempt_at = r.at + make_interval(secs => coalesce(r.delay_s, 0)),
    last_error = CASE WHEN r.state = 'pending' AND e.disabled_at IS NOT NULL
                      THEN 'endpoint disabled' ELSE r.error END,
    finished_at = CASE WHEN r.state <> 'pending' OR e.disabled_at IS NOT NULL THEN r.at END
FROM r, webhook_endpoints e
WHERE d.id = r.id AND e.id = d.endpoint_id"""

# Per endpoint in the batch: its latest success, and its first failure. A success ends a
# failing streak; a failure starts one unless one is running.
HEALTH = """
UPDATE webhook_endpoints e
SET last_success_at = greatest(e.last_success_at, h.success_at),
    failing_since = CASE WHEN h.success_at IS NOT NULL
                              AND (h.failure_at IS NULL OR h.success_at > h.failure_at)
                         THEN NULL
                         ELSE coalesce(e.failing_since, h.failure_at) END
FROM unnest($1::uuid[], $2::timestamptz[], $3::timestamptz[]) AS h(id, success_at, failure_at)
WHERE e.id = h.id"""

# 410 Gone ($1), or failing for the whole window: disabled now. Returns what was disabled.
DISABLE_UNHEALTHY = """
UPDATE webhook_endpoints
SET disabled_at = now(),
    disabled_reason = CASE WHEN id = ANY ($1::uuid[]) THEN 'gone' ELSE 'failing' END
WHERE disabled_at IS NULL
  AND (id = ANY ($1::uuid[])
       OR (id = ANY ($2::uuid[]) AND failing_since <= now() - make_interval(secs => $3)))
RETURNING id, store_id, url, disabled_reason"""

# A disabled endpoint's pending deliveries are kept, failed, for a replay.
FAIL_PENDING = """
UPDATE webhook_deliveries SET state = 'failed', last_error = 'endpoint disabled',
       finished_at = now()
WHERE endpoint_id = ANY ($1::uuid[]) AND state = 'pending'"""

# Claimed but never attempted (stopping): due again at once.
RELEASE = """
UPDATE webhook_deliveries SET next_attempt_at = now()
WHERE id = ANY ($1::bigint[]) AND state = 'pending'"""

# --- endpoint administration (the CLI) ---

INSERT_ENDPOINT = """
INSERT INTO webhook_endpoints (id, store_id, url, event_types, secret)
VALUES ($1, $2, $3, $4, $5)"""

LIST_ENDPOINTS = """
SELECT e.id, e.url, e.event_types, e.disabled_at, e.disabled_reason, e.failing_since,
       e.last_success_at, e.created_at,
       count(d.id) FILTER (WHERE d.state = 'pending') AS pending,
       count(d.id) FILTER (WHERE d.state = 'failed') AS failed,
       count(d.id) FILTER (WHERE d.state = 'succeeded') AS succeeded
FROM webhook_endpoints e LEFT JOIN webhook_deliveries d ON d.endpoint_id = e.id
WHERE e.store_id = $1
GROUP BY e.id ORDER BY e.created_at"""

DISABLE = """
UPDATE webhook_endpoints SET disabled_at = coalesce(disabled_at, now()),
       disabled_reason = coalesce(disabled_reason, 'manual')
WHERE id = $1 RETURNING id"""

ENABLE = """
UPDATE webhook_endpoints SET disabled_at = NULL, disabled_reason = NULL, failing_since = NULL
WHERE id = $1 RETURNING id"""

ROTATE = """
UPDATE webhook_endpoints
SET previous_secret = secret, secret = $2,
    previous_secret_until = now() + make_interval(secs => $3)
WHERE id = $1 RETURNING id"""

ENDPOINT_DISABLED = "SELECT disabled_at IS NOT NULL FROM webhook_endpoints WHERE id = $1"

# Every failed delivery of the endpoint since $2 starts a new round of attempts.
REPLAY_FAILED = """
UPDATE webhook_deliveries
SET state = 'pending', tries = 0, next_attempt_at = now(), finished_at = NULL
WHERE endpoint_id = $1 AND state = 'failed' AND created_at >= $2
RETURNING id"""

# One delivery, whatever its state (a receiver that lost a succeeded one may ask again).
REPLAY_ONE = """
UPDATE webhook_deliveries d
SET state = 'pending', tries = 0, next_attempt_at = now(), finished_at = NULL
FROM webhook_endpoints e
WHERE d.id = $1 AND e.id = d.endpoint_id
RETURNING d.endpoint_id, e.disabled_at IS NOT NULL AS disabled"""

LIST_DELIVERIES = """
SELECT d.id, d.event_id, m.type, d.state, d.tries, d.next_attempt_at, d.last_error,
       d.created_at, d.finished_at
FROM webhook_deliveries d JOIN webhook_messages m ON m.event_id = d.event_id
WHERE d.endpoint_id = $1 AND ($2::text IS NULL OR d.state = $2)
ORDER BY d.id DESC LIMIT $3"""

ATTEMPTS = """
SELECT at, status_code, latency_ms, response, error FROM webhook_attempts
WHERE delivery_id = $1 ORDER BY at"""

"""The delivery service's SQL."""

WAKE_CHANNEL = "messages_due"

# --- accepting outbound messages (a batch at a time) ---

EXISTING_MESSAGES = "SELECT id FROM messages WHERE id = ANY ($1::uuid[])"

CLIENTS_IN_STORES = """
SELECT c.id, c.store_id, c.phone, c.email, sc.sms_number, sc.email_address
FROM clients c JOIN unnest($1::uuid[], $2::uuid[]) AS k(id, store_id)
  ON c.id = k.id AND c.store_id = k.store_id
LEFT JOIN store_channels sc ON sc.store_id = c.store_id
WHERE c.deleted_at IS NULL"""

INSERT_MESSAGES = """
INSERT INTO messages (id, store_id, client_id, thread_id, direction, channel, subject, text,
                      html, from_addr, to_addr, state, error, provider, provider_id,
                      send_status, next_send_at, created_at, updated_at)
SELECT id, store_id, client_id, thread_id, direction, channel, subject, text, html, from_addr,
       to_addr, state, error, provider, provider_id, send_status,
       CASE WHEN send_status = 'due' THEN $17::timestamptz END, $17, $17
FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::text[], $6::text[], $7::text[],
            $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[],
            $14::text[], $15::text[], $16::text[])
    AS t(id, store_id, client_id, thread_id, direction, channel, subject, text, html,
         from_addr, to_addr, state, error, provider, provider_id, send_status)
ON CONFLICT DO NOTHING
RETURNING id"""

# --- threads (a batch at a time) ---

THREADS_BY_IDS = """
SELECT id, store_id, client_id FROM threads WHERE id = ANY ($1::uuid[]) ORDER BY id
FOR UPDATE"""

OPEN_THREADS = """
SELECT t.id, t.store_id, t.client_id
FROM threads t JOIN unnest($1::uuid[], $2::uuid[]) AS k(store_id, client_id)
  ON t.store_id = k.store_id AND t.client_id = k.client_id
WHERE t.status = 'open' ORDER BY t.id
FOR UPDATE OF t"""

# A concurrent opener may win the one-open-thread index: those rows are not returned.
NEW_THREADS = """
INSERT INTO threads (id, store_id, client_id, channel, status, last_activity_at)
SELECT id, store_id, client_id, channel, 'open', $5
FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[])
    AS t(id, store_id, client_id, channel)
ON CONFLICT DO NOTHING RETURNING id, store_id, client_id"""

TOUCH_THREADS = """
UPDATE threads t
SET last_activity_at = greatest(t.last_activity_at, k.at),
    last_preview = CASE WHEN k.at >= t.last_activity_at THEN k.preview ELSE t.last_preview END,
    channel = CASE WHEN k.at >= t.last_activity_at THEN k.channel ELSE t.channel END
FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::text[])
    AS k(id, at, preview, channel)
WHERE t.id = k.id"""

MARK_READ = """
UPDATE threads SET operator_last_read_at = greatest(operator_last_read_at, $3)
WHERE id = $1 AND store_id = $2 RETURNING id"""

SET_STATUS = "UPDATE threads SET status = $3 WHERE id = $1 AND store_id = $2 RETURNING id"

# --- sending ---

# Due sends, oldest first, none for the lanes (sending numbers, or 'email') this sender
# already holds enough of; the claim is a lease.
CLAIM_SENDS = """
WITH due AS (
    SELECT id FROM messages
    WHERE send_status = 'due' AND next_send_at <= now()
      AND (CASE WHEN channel = 'sms' THEN 'sms:' || from_addr ELSE 'email' END) <> ALL ($2)
    ORDER BY next_send_at LIMIT $1
    FOR UPDATE SKIP LOCKED
)
UPDATE messages m SET next_send_at = now() + make_interval(secs => $3)
FROM due WHERE m.id = due.id
RETURNING m.id, m.store_id, m.client_id, m.thread_id, m.channel, m.subject, m.text, m.html,
          m.from_addr, m.to_addr, m.send_attempts"""

NEXT_SEND = """
SELECT extract(epoch FROM min(next_send_at) - now()) FROM messages WHERE send_status = 'due'"""

MESSAGE_FOR_UPDATE = """
SELECT id, store_id, client_id, thread_id, channel, state FROM messages WHERE id = $1
FOR UPDATE"""

SENT = """
UPDATE messages SET provider = $2, provider_id = $3, state = $4, error = $5,
       send_status = 'done', send_attempts = send_attempts + $6, updated_at = now()
WHERE id = $1"""

SEND_FAILED = """
UPDATE messages SET state = $2, error = $3, send_status = 'done',
       send_attempts = send_attempts + $4, updated_at = now()
WHERE id = $1"""

RELEASE_SENDS = """
UPDATE messages SET next_send_at = now() WHERE id = ANY ($1::uuid[]) AND send_status = 'due'"""

# --- callbacks ---

LOG_CALLBACK = """
INSERT INTO message_callbacks (provider, callback_key, provider_id, status, state, payload,
                               received_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (provider, callback_key) DO NOTHING
RETURNING seq"""

# A batch of status callbacks: logged (duplicates skipped), returning the new ones.
LOG_CALLBACKS = """
INSERT INTO message_callbacks (provider, callback_key, provider_id, status, state, payload,
                               received_at)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::jsonb[],
                     $7::timestamptz[])
ON CONFLICT (provider, callback_key) DO NOTHING
RETURNING seq, provider, callback_key"""

# Invariant 8 under concurrency: a send's answer (record_sent) and the callbacks about it are
# serialized per (provider, provider id), taken first in both transactions, in one order. Without
# it each could miss the other's uncommitted row and leave a callback unmatched for good.
LOCK_PROVIDER_IDS = """
SELECT count(pg_advisory_xact_lock(k)) FROM (
    SELECT DISTINCT hashtextextended(p || '/' || i, 0) AS k
    FROM unnest($1::text[], $2::text[]) AS t(p, i) ORDER BY k) s"""

MESSAGES_BY_PROVIDER_IDS = """
SELECT m.id, m.store_id, m.client_id, m.thread_id, m.channel, m.state, m.provider,
       m.provider_id
FROM messages m JOIN unnest($1::text[], $2::text[]) AS k(provider, provider_id)
  ON m.provider = k.provider AND m.provider_id = k.provider_id
ORDER BY m.id
FOR UPDATE OF m"""

# Callbacks (seq) attached to their messages, pairwise.
LINK_CALLBACKS = """
UPDATE message_callbacks c SET message_id = k.message_id
FROM unnest($1::bigint[], $2::uuid[]) AS k(seq, message_id) WHERE c.seq = k.seq"""

SET_STATES = """
UPDATE messages m SET state = k.state, error = coalesce(k.error, m.error), updated_at = now()
FROM unnest($1::uuid[], $2::text[], $3::text[]) AS k(id, state, error) WHERE m.id = k.id"""


# Callbacks that arrived before the send's answer was recorded: applied once it is.
UNMATCHED_FOR = """
SELECT seq, state, payload FROM message_callbacks
WHERE provider = $1 AND provider_id = $2 AND message_id IS NULL ORDER BY seq"""

STORE_BY_SMS_NUMBER = "SELECT store_id FROM store_channels WHERE sms_number = $1"
STORE_BY_EMAIL = "SELECT store_id FROM store_channels WHERE email_address = lower($1)"

CLIENT_BY_PHONE = """
SELECT id FROM clients WHERE store_id = $1 AND phone = $2 AND deleted_at IS NULL
ORDER BY created_at LIMIT 1"""

CLIENT_BY_EMAIL_KEY = """
SELECT id FROM clients WHERE store_id = $1 AND email_key = $2 AND deleted_at IS NULL"""

# --- the inbox (CLI) ---

THREADS = """
SELECT t.id, t.client_id, c.name AS client_name, t.channel, t.status, t.last_activity_at,
       t.last_preview,
       (SELECT count(*) FROM messages m WHERE m.thread_id = t.id AND m.direction = 'inbound'
          AND m.created_at > coalesce(t.operator_last_read_at, '-infinity')) AS unread
FROM threads t JOIN clients c ON c.id = t.client_id
WHERE t.store_id = $1
ORDER BY t.last_activity_at DESC, t.id LIMIT $2"""

THREAD = """
SELECT t.id, t.store_id, t.client_id, c.name AS client_name, t.channel, t.status,
       t.last_activity_at, t.operator_last_read_at,
       (SELECT count(*) FROM messages m WHERE m.thread_id = t.id AND m.direction = 'inbound'
          AND m.created_at > coalesce(t.operator_last_read_at, '-infinity')) AS unread
FROM threads t JOIN clients c ON c.id = t.client_id
WHERE t.id = $1 AND ($2::uuid IS NULL OR t.store_id = $2)"""

THREAD_MESSAGES = """
SELECT id, direction, channel, subject, text, state, error, created_at, updated_at
FROM messages WHERE thread_id = $1 ORDER BY created_at, id"""

SET_CHANNELS = """
INSERT INTO store_channels (store_id, sms_number, email_address) VALUES ($1, $2, lower($3))
ON CONFLICT (store_id) DO UPDATE
SET sms_number = coalesce(EXCLUDED.sms_number, store_channels.sms_number),
    email_address = coalesce(EXCLUDED.email_address, store_channels.email_address)
RETURNING store_id, sms_number, email_address"""

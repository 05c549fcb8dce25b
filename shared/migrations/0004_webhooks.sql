-- Webhook fan-out: endpoints per store, one message per event (the body every endpoint gets),
-- one delivery per (endpoint, event), and an append-only log of every attempt.

CREATE TABLE webhook_endpoints (
    id               uuid PRIMARY KEY,
    store_id         uuid NOT NULL REFERENCES stores (id),
    url              text NOT NULL,
    event_types      text[] NOT NULL DEFAULT '{}',   -- empty: every type
    secret           text NOT NULL,                  -- whsec_…: needed in clear to sign
    previous_secret  text,                           -- still signed with during a rotation
    previous_secret_until timestamptz,
    disabled_at      timestamptz,
    disabled_reason  text,
    failing_since    timestamptz,   -- first failure after the last success; NULL when healthy
    last_success_at  timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_endpoints_store_idx ON webhook_endpoints (store_id);

CREATE TABLE webhook_messages (
    event_id   uuid PRIMARY KEY,   -- the client event's id: the `webhook-id` header
    store_id   uuid NOT NULL,
    type       text NOT NULL,
    body       text NOT NULL,      -- exactly the bytes that are signed and sent
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Recorded before any attempt; UNIQUE (endpoint, event) makes a redelivered event a no-op.
-- A due delivery is `pending` with next_attempt_at <= now(); a dispatcher that claims one moves
-- next_attempt_at past its lease, so a crashed dispatcher's claims fall due again.
CREATE TABLE webhook_deliveries (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    endpoint_id     uuid NOT NULL REFERENCES webhook_endpoints (id),
    event_id        uuid NOT NULL REFERENCES webhook_messages (event_id),
    state           text NOT NULL CHECK (state IN ('pending', 'succeeded', 'failed')),
    tries           int NOT NULL DEFAULT 0,   -- attempts in this round (a replay starts one)
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (endpoint_id, next_attempt_at)
    WHERE state = 'pending';
CREATE INDEX webhook_deliveries_next_idx ON webhook_deliveries (next_attempt_at)
    WHERE state = 'pending';
CREATE INDEX webhook_deliveries_failed_idx ON webhook_deliveries (endpoint_id, created_at)
    WHERE state = 'failed';

CREATE TABLE webhook_attempts (
    delivery_id  bigint NOT NULL REFERENCES webhook_deliveries (id),
    at           timestamptz NOT NULL,
    status_code  int,            -- NULL: no HTTP answer (timeout, refused, guard)
    latency_ms   double precision NOT NULL,
    response     text,           -- the first 4 KB of the body
    error        text
);
CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (delivery_id, at);

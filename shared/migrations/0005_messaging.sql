-- SMS and email: the stores' sending identities, inbox threads, messages with their
-- forward-only delivery state, and the append-only log of provider callbacks.

-- A store's SendBlue number (sends from it; inbound SMS to it belongs to the store) and its
-- email address (sends from it; inbound email to it belongs to the store).
CREATE TABLE store_channels (
    store_id      uuid PRIMARY KEY REFERENCES stores (id),
    sms_number    text UNIQUE,      -- E.164
    email_address text UNIQUE       -- lower-cased
);

CREATE TABLE threads (
    id                    uuid PRIMARY KEY,
    store_id              uuid NOT NULL REFERENCES stores (id),
    client_id             uuid NOT NULL REFERENCES clients (id),
    channel               text NOT NULL,    -- of the last message
    status                text NOT NULL CHECK (status IN ('open', 'closed')),
    last_activity_at      timestamptz NOT NULL,
    last_preview          text NOT NULL DEFAULT '',
    operator_last_read_at timestamptz,
    created_at            timestamptz NOT NULL DEFAULT now()
);
-- One open thread per client.
CREATE UNIQUE INDEX threads_one_open ON threads (store_id, client_id) WHERE status = 'open';
CREATE INDEX threads_store_activity ON threads (store_id, last_activity_at DESC);

-- id is the message_id of messages.outbound.v1 (the idempotency key); inbound messages get a
-- name-based uuid of their provider id. Outbound sends are queued rows: send_status 'due' with
-- next_send_at <= now() is claimed by a sender under a lease.
CREATE TABLE messages (
    id            uuid PRIMARY KEY,
    store_id      uuid NOT NULL REFERENCES stores (id),
    client_id     uuid NOT NULL REFERENCES clients (id),
    thread_id     uuid NOT NULL REFERENCES threads (id),
    direction     text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    channel       text NOT NULL CHECK (channel IN ('sms', 'email', 'in_app')),
    subject       text,
    text          text,
    html          text,
    from_addr     text,
    to_addr       text,
    state         text NOT NULL CHECK (state IN ('queued', 'sent', 'delivered', 'failed',
                                                 'received')),
    error         text,
    provider      text,            -- sendblue | resend
    provider_id   text,            -- SendBlue message_handle / Resend email id
    send_status   text NOT NULL DEFAULT 'none' CHECK (send_status IN ('none', 'due', 'done')),
    send_attempts int NOT NULL DEFAULT 0,
    next_send_at  timestamptz,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);
CREATE UNIQUE INDEX messages_provider_id ON messages (provider, provider_id);
CREATE INDEX messages_thread ON messages (thread_id, created_at);
CREATE INDEX messages_due ON messages (next_send_at) WHERE send_status = 'due';

-- Invariant 8: every callback kept, in arrival order; message_id NULL while its message is
-- unknown (reported, and applied if the message's provider id turns up later).
CREATE TABLE message_callbacks (
    seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provider     text NOT NULL,
    callback_key text NOT NULL,     -- svix-id, or a digest of the SendBlue body
    provider_id  text,
    message_id   uuid REFERENCES messages (id),
    status       text,              -- as the provider said it
    state        text,              -- ours, NULL when the status moves nothing
    payload      jsonb NOT NULL,
    received_at  timestamptz NOT NULL,
    UNIQUE (provider, callback_key)
);
CREATE INDEX message_callbacks_message ON message_callbacks (message_id, seq);
CREATE INDEX message_callbacks_unmatched ON message_callbacks (provider, provider_id)
    WHERE message_id IS NULL;

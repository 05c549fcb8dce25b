-- Clients, their external ids, their timeline of touches (which doubles as the record of
-- processed requests), and the outbox.

CREATE TABLE clients (
    id                        uuid PRIMARY KEY,
    store_id                  uuid NOT NULL REFERENCES stores (id),
    name                      text NOT NULL,
    first_name                text,
    last_name                 text,
    email                     text,           -- as entered (trimmed)
    email_key                 text,           -- trimmed, NFC, case-folded: the identity
    phone                     text,           -- E.164
    company                   text,
    type                      text NOT NULL DEFAULT 'retail' CHECK (type IN ('retail', 'wholesale')),
    tags                      text[] NOT NULL DEFAULT '{}',
    notes                     text,
    external_ids              jsonb NOT NULL DEFAULT '{}',   -- integration key id -> external id
    source_label              text,           -- first touch: where the row came from
    source_external_id        text,
    source_integration_key_id uuid REFERENCES integration_keys (id),
    created_at                timestamptz NOT NULL,
    updated_at                timestamptz NOT NULL,
    deleted_at                timestamptz,    -- soft delete (archive)
    CHECK ((email IS NULL) = (email_key IS NULL)),
    CHECK (email IS NOT NULL OR phone IS NOT NULL)
);
-- Invariant 1: one live client per (store, email key); an archived one frees its email.
CREATE UNIQUE INDEX clients_live_email_key ON clients (store_id, email_key)
    WHERE deleted_at IS NULL AND email_key IS NOT NULL;

-- Step 1 of the resolver: an external id seen before from the same integration key.
CREATE TABLE client_external_ids (
    integration_key_id uuid NOT NULL REFERENCES integration_keys (id),
    external_id        text NOT NULL,
    client_id          uuid NOT NULL REFERENCES clients (id),
    created_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (integration_key_id, external_id)
);
CREATE INDEX client_external_ids_client_idx ON client_external_ids (client_id);

-- Every touch of a client by a source, first one included: the client's timeline. Keyed by
-- request, it is also invariant 4: a request processed twice gives the recorded result and
-- writes nothing twice.
CREATE TABLE client_touches (
    store_id           uuid NOT NULL,
    request_id         text NOT NULL,
    client_id          uuid NOT NULL REFERENCES clients (id),
    outcome            text NOT NULL,
    duplicate          boolean NOT NULL,
    source_label       text,
    integration_key_id uuid,
    external_id        text,
    at                 timestamptz NOT NULL,
    PRIMARY KEY (store_id, request_id)
);
CREATE INDEX client_touches_client_idx ON client_touches (client_id, at);

-- Invariant 3: a client change and its event commit together; the relay publishes and deletes.
CREATE TABLE outbox (
    seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id   uuid NOT NULL,          -- the event's id, stable across re-publication
    topic      text NOT NULL,
    key        text NOT NULL,
    payload    jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

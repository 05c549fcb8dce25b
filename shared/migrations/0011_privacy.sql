-- Privacy: erasure requests and their receipts, RUO attestations (append-only) and the
-- store's RUO settings, and what the eraser needs to find a person's data by client id.

-- An erased client keeps its row (id, store, status, dates: what other records point at) with
-- every personal field gone; it cannot be restored.
ALTER TABLE clients ADD COLUMN erased_at timestamptz;
ALTER TABLE clients DROP CONSTRAINT clients_check1;
ALTER TABLE clients ADD CONSTRAINT clients_reachable
    CHECK (email IS NOT NULL OR phone IS NOT NULL OR erased_at IS NOT NULL);

CREATE TABLE erasure_requests (
    id                uuid PRIMARY KEY,
    store_id          uuid NOT NULL REFERENCES stores (id),
    client_id         uuid NOT NULL REFERENCES clients (id),
    reason            text NOT NULL,
    requested_by_type text NOT NULL,
    requested_by_id   uuid,
    requested_by_name text,
    command_id        text NOT NULL,
    requested_at      timestamptz NOT NULL,
    due_at            timestamptz NOT NULL,
    cancelled_at      timestamptz,
    cancelled_by_name text,
    done_at           timestamptz,
    receipt           jsonb,          -- rows touched per table, once done
    CHECK (cancelled_at IS NULL OR done_at IS NULL)
);
-- One pending erasure per client; the eraser finds the due ones by date.
CREATE UNIQUE INDEX erasure_requests_one_pending ON erasure_requests (client_id)
    WHERE cancelled_at IS NULL AND done_at IS NULL;
CREATE INDEX erasure_requests_due ON erasure_requests (due_at)
    WHERE cancelled_at IS NULL AND done_at IS NULL;
CREATE INDEX erasure_requests_store ON erasure_requests (store_id, requested_at DESC);

-- Where a person's data is, by client id (the eraser and the subject-access export).
ALTER TABLE webhook_messages ADD COLUMN client_id uuid;
UPDATE webhook_messages SET client_id = (body::jsonb -> 'data' ->> 'id')::uuid;
CREATE INDEX webhook_messages_client ON webhook_messages (client_id);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id);
ALTER TABLE client_commands ADD COLUMN client_id uuid;
UPDATE client_commands SET client_id = (result -> 'client_ids' ->> 0)::uuid
    WHERE jsonb_array_length(result -> 'client_ids') = 1;
CREATE INDEX client_commands_client ON client_commands (client_id) WHERE client_id IS NOT NULL;
CREATE INDEX import_rows_client ON import_rows (client_id) WHERE client_id IS NOT NULL;
CREATE INDEX threads_client ON threads (client_id);

-- The audit log stays append-only, with one exception the eraser needs: an entry's changed
-- values may be replaced by "[erased]" (null stays null), and nothing else about it may change.
CREATE FUNCTION erased_form(v jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN jsonb_typeof(v) = 'array' THEN (
            SELECT coalesce(jsonb_agg(CASE WHEN e = 'null' THEN e ELSE '"[erased]"' END
                                      ORDER BY i), '[]')
            FROM jsonb_array_elements(v) WITH ORDINALITY AS x(e, i))
        WHEN v = 'null' THEN v
        ELSE '"[erased]"' END
$$;

CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND (NEW.seq, NEW.store_id, NEW.client_id, NEW.client_version, NEW.at, NEW.actor_type,
            NEW.actor_id, NEW.actor_name, NEW.action, NEW.command_id)
           IS NOT DISTINCT FROM
           (OLD.seq, OLD.store_id, OLD.client_id, OLD.client_version, OLD.at, OLD.actor_type,
            OLD.actor_id, OLD.actor_name, OLD.action, OLD.command_id)
       AND NOT EXISTS (
           SELECT 1 FROM jsonb_each(OLD.changes) o FULL JOIN jsonb_each(NEW.changes) n
               ON n.key = o.key
           WHERE o.key IS NULL OR n.key IS NULL
              OR (n.value <> o.value AND n.value <> erased_form(o.value))) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only: % refused (only an erasure may redact it)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;

-- RUO: the store's current attestation text and window, and every capture (append-only:
-- evidence the store keeps, so an erasure leaves it; it holds no name, email or phone).
CREATE TABLE ruo_settings (
    store_id      uuid PRIMARY KEY REFERENCES stores (id),
    text          text NOT NULL,
    version       integer NOT NULL CHECK (version >= 1),
    validity_days integer NOT NULL CHECK (validity_days >= 1),
    updated_at    timestamptz NOT NULL
);

CREATE TABLE attestations (
    id          uuid PRIMARY KEY,
    store_id    uuid NOT NULL REFERENCES stores (id),
    client_id   uuid NOT NULL REFERENCES clients (id),
    capture_id  text NOT NULL,      -- the producer's idempotency key
    text        text NOT NULL,      -- as shown to the client
    version     integer NOT NULL,
    captured_at timestamptz NOT NULL,
    ip          text,
    user_agent  text,
    source      text NOT NULL,      -- checkout (the topic) | api
    actor_name  text,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (store_id, capture_id)
);
CREATE INDEX attestations_client ON attestations (client_id, captured_at DESC);

CREATE FUNCTION attestations_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'attestations are append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER attestations_no_update_or_delete BEFORE UPDATE OR DELETE ON attestations
    FOR EACH ROW EXECUTE FUNCTION attestations_append_only();
CREATE TRIGGER attestations_no_truncate BEFORE TRUNCATE ON attestations
    FOR EACH STATEMENT EXECUTE FUNCTION attestations_append_only();

-- A client's version grows with every change (client.created = 1); every event carries it, so a
-- consumer can drop a stale one.
ALTER TABLE clients ADD COLUMN version integer NOT NULL DEFAULT 1;

-- Invariant 12: every change to a client is audited in the transaction that makes it: who (the
-- actor and its name as it was then), what (the action, each changed field before -> after),
-- when, and the command or request id. Append-only: the database refuses UPDATE, DELETE and
-- TRUNCATE of it. (Erasure will have to redact entries: it gets its own, narrow way in.)
CREATE TABLE audit_log (
    seq            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    store_id       uuid NOT NULL,
    client_id      uuid NOT NULL,
    client_version integer NOT NULL,   -- the version this change made
    at             timestamptz NOT NULL,
    actor_type     text NOT NULL
        CHECK (actor_type IN ('integration_key', 'import', 'member', 'public_key', 'system')),
    actor_id       uuid,               -- the key or member, when there is one
    actor_name     text,               -- its label or name, or the source label
    action         text NOT NULL,      -- created | updated (commands add theirs)
    changes        jsonb NOT NULL,     -- {"field": [before, after], ...}
    command_id     text                -- the request or command that made the change
);
CREATE INDEX audit_log_client_idx ON audit_log (client_id, seq);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_log_no_update_or_delete BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

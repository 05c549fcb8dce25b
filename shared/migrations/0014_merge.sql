-- Profile merge (seed 004): a secondary client merged into a primary is archived with
-- `merged_into`; the resolver follows it (the secondary's email resolves to the primary).
-- Merging re-points the secondary's related rows, attestations included.

ALTER TABLE clients
    ADD COLUMN merged_into uuid REFERENCES clients (id),
    ADD COLUMN merged_at   timestamptz,
    ADD CONSTRAINT clients_merged_archived
        CHECK (merged_into IS NULL OR deleted_at IS NOT NULL),
    ADD CONSTRAINT clients_not_merged_into_self CHECK (merged_into <> id);
-- The resolver's second look, for an email no live client holds.
CREATE INDEX clients_merged_email ON clients (store_id, email_key)
    WHERE merged_into IS NOT NULL AND email_key IS NOT NULL;
-- A merge points the clients merged into the secondary at the primary (one hop, always).
CREATE INDEX clients_merged_into ON clients (merged_into) WHERE merged_into IS NOT NULL;

-- Attestations stay append-only, but a merge may move one to the surviving client: an UPDATE
-- that changes client_id and nothing else is the one allowed.
CREATE OR REPLACE FUNCTION attestations_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND to_jsonb(NEW) - 'client_id' = to_jsonb(OLD) - 'client_id' THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'attestations are append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;

-- Marketing consent (seed 004): the client's choice, when it last changed and from where (the
-- audit log keeps every change with its before and after).
ALTER TABLE clients
    ADD COLUMN accepts_marketing        boolean NOT NULL DEFAULT false,
    ADD COLUMN marketing_consent_at     timestamptz,
    ADD COLUMN marketing_consent_source text;
CREATE INDEX clients_live_marketing ON clients (store_id, updated_at DESC, id DESC)
    WHERE deleted_at IS NULL AND accepts_marketing;
CREATE INDEX clients_live_vip ON clients (store_id, updated_at DESC, id DESC)
    WHERE deleted_at IS NULL AND is_vip;

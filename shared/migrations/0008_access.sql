-- Who may operate on a store's clients besides its integrations: members, whose role gives their
-- scopes, and read-only public keys. Their tokens (pck_usr_…, pck_pub_…) are shown once; only the
-- SHA-256 is kept, as for integration keys.
CREATE TABLE members (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    store_id     uuid NOT NULL REFERENCES stores (id),
    name         text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    role         text NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
    token_hash   bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    token_prefix text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz
);
CREATE INDEX members_store_idx ON members (store_id);

CREATE TABLE public_keys (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    store_id     uuid NOT NULL REFERENCES stores (id),
    label        text NOT NULL CHECK (length(btrim(label)) BETWEEN 1 AND 200),
    token_hash   bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    token_prefix text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz
);
CREATE INDEX public_keys_store_idx ON public_keys (store_id);

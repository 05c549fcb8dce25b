-- Stores and the integration keys that write into them.
CREATE TABLE stores (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name       text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    region     text NOT NULL DEFAULT 'US' CHECK (region ~ '^[A-Z]{2}$'),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- A key's token (pck_int_…) is shown once; only its SHA-256 is kept.
CREATE TABLE integration_keys (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    store_id     uuid NOT NULL REFERENCES stores (id),
    label        text NOT NULL CHECK (length(btrim(label)) BETWEEN 1 AND 200),
    token_hash   bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    token_prefix text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz
);
CREATE INDEX integration_keys_store_idx ON integration_keys (store_id);

-- B2B accounts (seed 003): contacts, extra people under a client account with a role (no
-- passwords here), unique per account by email; and per-product price overrides.
CREATE TABLE client_contacts (
    id         uuid PRIMARY KEY,
    store_id   uuid NOT NULL REFERENCES stores (id),
    client_id  uuid NOT NULL REFERENCES clients (id),
    email      text NOT NULL,
    email_key  text NOT NULL,
    name       text,
    role       text NOT NULL CHECK (role IN ('ADMIN', 'BUYER', 'VIEWER')),
    invited_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    UNIQUE (client_id, email_key)
);

CREATE TABLE price_overrides (
    store_id    uuid NOT NULL REFERENCES stores (id),
    client_id   uuid NOT NULL REFERENCES clients (id),
    product_id  text NOT NULL,
    price_minor bigint NOT NULL CHECK (price_minor >= 0),
    currency    text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (client_id, product_id)
);

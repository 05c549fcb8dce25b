-- Account fields (seed 001): a parent client (a hierarchy; the commands service refuses a
-- cycle), the country (ISO 3166-1 alpha-2), the currency (ISO 4217) and the QuickBooks id.
ALTER TABLE clients
    ADD COLUMN parent_id uuid REFERENCES clients (id),
    ADD COLUMN country   text CHECK (country ~ '^[A-Z]{2}$'),
    ADD COLUMN currency  text CHECK (currency ~ '^[A-Z]{3}$'),
    ADD COLUMN qbo_id    text,
    ADD CONSTRAINT clients_not_own_parent CHECK (parent_id <> id);
CREATE INDEX clients_parent ON clients (parent_id) WHERE parent_id IS NOT NULL;

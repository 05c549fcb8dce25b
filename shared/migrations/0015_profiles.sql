-- Full profiles (seeds 000, 002, 003): date of birth and allergies (personal data: exported and
-- erased), wholesale terms, the relationship, the consignor (its flag cannot go while consigned
-- items, counted by the owning system, reference the client), social profiles.

ALTER TABLE clients
    ADD COLUMN date_of_birth                 date,
    ADD COLUMN allergies                     text,
    ADD COLUMN wholesale_terms               text
        CHECK (wholesale_terms IN ('net_15', 'net_30', 'net_60')),
    ADD COLUMN tax_exempt                    boolean NOT NULL DEFAULT false,
    ADD COLUMN resale_certificate            text,
    ADD COLUMN resale_certificate_expires_on date,
    ADD COLUMN customer_since                date,
    ADD COLUMN preferred_contact             text
        CHECK (preferred_contact IN ('email', 'phone', 'text', 'no_preference')),
    ADD COLUMN discovery_source              text
        CHECK (discovery_source IN ('instagram', 'referral', 'walk_in', 'show_fair',
                                    'website', 'other')),
    ADD COLUMN referral_details              text,
    ADD COLUMN is_consignor                  boolean NOT NULL DEFAULT false,
    ADD COLUMN consignor_code                text CHECK (consignor_code ~ '^[A-Z0-9]{1,6}$'),
    ADD COLUMN consigned_items               integer NOT NULL DEFAULT 0
        CHECK (consigned_items >= 0),
    ADD COLUMN instagram                     text,
    ADD COLUMN facebook                      text,
    ADD CONSTRAINT clients_consignor_code CHECK (consignor_code IS NULL OR is_consignor),
    ADD CONSTRAINT clients_consigned_by_consignor CHECK (is_consignor OR consigned_items = 0);

-- Possible duplicates (seed 002): a live client of the store with the same name, case and
-- accents aside, or the same phone. unaccent() is only STABLE (its dictionary could change);
-- name_key pins the dictionary, so it can be indexed.
CREATE EXTENSION IF NOT EXISTS unaccent;
CREATE FUNCTION name_key(name text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN lower(public.unaccent('public.unaccent'::regdictionary, name));
CREATE INDEX clients_live_name_key ON clients (store_id, name_key(name))
    WHERE deleted_at IS NULL;
CREATE INDEX clients_live_phone ON clients (store_id, phone)
    WHERE deleted_at IS NULL AND phone IS NOT NULL;

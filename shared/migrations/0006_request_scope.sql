-- A request id is unique per integration key, not per store: two keys of one store may both send
-- "r-1" about different people (hardening, defect 5). Requests that come with no key (imports,
-- inbound messages) share the nil scope, as before.
ALTER TABLE client_touches ADD COLUMN request_scope uuid NOT NULL GENERATED ALWAYS AS
    (coalesce(integration_key_id, '00000000-0000-0000-0000-000000000000'::uuid)) STORED;
ALTER TABLE client_touches DROP CONSTRAINT client_touches_pkey;
ALTER TABLE client_touches ADD PRIMARY KEY (store_id, request_scope, request_id);

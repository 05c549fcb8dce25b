-- The notes log (seed 002): a running log of interactions and reminders per client, apart from
-- the single `notes` field. Written by commands (audited); erased with the client.
CREATE TABLE client_notes (
    id          uuid PRIMARY KEY,
    store_id    uuid NOT NULL REFERENCES stores (id),
    client_id   uuid NOT NULL REFERENCES clients (id),
    text        text NOT NULL,
    author_type text NOT NULL,
    author_id   uuid,
    author_name text,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);
CREATE INDEX client_notes_client ON client_notes (client_id, created_at DESC, id DESC);

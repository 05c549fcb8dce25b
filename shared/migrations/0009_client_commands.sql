-- Commands on clients (the "operate on clients" issue): a status and a credit limit (seed 003),
-- and the record of every command applied, which makes a command id idempotent: the same id
-- again answers the recorded result and changes nothing.
ALTER TABLE clients
    ADD COLUMN status text NOT NULL DEFAULT 'ACTIVE' CHECK (status IN ('ACTIVE', 'BLOCKED')),
    ADD COLUMN credit_limit numeric(12, 2) CHECK (credit_limit >= 0);

CREATE TABLE client_commands (
    store_id   uuid NOT NULL,
    command_id text NOT NULL,
    result     jsonb NOT NULL,
    at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (store_id, command_id)
);

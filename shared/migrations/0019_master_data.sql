-- Master data (seed 001): a store's customer types, customer segments and brokers, which
-- classify its clients; names unique per store and kind (case aside). A delete is refused while
-- any client uses the entry (the foreign keys back that up). Every change is logged, append-only.
CREATE TABLE master_data (
    id         uuid PRIMARY KEY,
    store_id   uuid NOT NULL REFERENCES stores (id),
    kind       text NOT NULL CHECK (kind IN ('customer_type', 'customer_segment', 'broker')),
    name       text NOT NULL,
    name_key   text NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    UNIQUE (store_id, kind, name_key)
);

ALTER TABLE clients
    ADD COLUMN customer_type_id    uuid REFERENCES master_data (id),
    ADD COLUMN customer_segment_id uuid REFERENCES master_data (id),
    ADD COLUMN broker_id           uuid REFERENCES master_data (id);
-- the in-use counts and the list filters
CREATE INDEX clients_customer_type ON clients (customer_type_id)
    WHERE customer_type_id IS NOT NULL;
CREATE INDEX clients_customer_segment ON clients (customer_segment_id)
    WHERE customer_segment_id IS NOT NULL;
CREATE INDEX clients_broker ON clients (broker_id) WHERE broker_id IS NOT NULL;

CREATE TABLE master_data_log (
    seq            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    store_id       uuid NOT NULL,
    master_data_id uuid NOT NULL,
    kind           text NOT NULL,
    at             timestamptz NOT NULL,
    actor_type     text NOT NULL,
    actor_id       uuid,
    actor_name     text,
    action         text NOT NULL,
    changes        jsonb NOT NULL,
    command_id     text
);
CREATE INDEX master_data_log_entry ON master_data_log (master_data_id, seq);
CREATE FUNCTION master_data_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'master_data_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER master_data_log_no_update_or_delete BEFORE UPDATE OR DELETE ON master_data_log
    FOR EACH ROW EXECUTE FUNCTION master_data_log_append_only();
CREATE TRIGGER master_data_log_no_truncate BEFORE TRUNCATE ON master_data_log
    FOR EACH STATEMENT EXECUTE FUNCTION master_data_log_append_only();

-- Orders feed the client: each order's state, the events that made it (the timeline and the
-- record of what was applied), the addresses orders bring, and the stats kept on the client.

ALTER TABLE clients
    ADD COLUMN total_orders      integer NOT NULL DEFAULT 0,
    ADD COLUMN total_spent_minor bigint NOT NULL DEFAULT 0,
    ADD COLUMN first_order_at    timestamptz,
    ADD COLUMN last_order_at     timestamptz,
    ADD COLUMN avg_order_value_minor bigint GENERATED ALWAYS AS (
        CASE WHEN total_orders > 0 THEN round(total_spent_minor::numeric / total_orders) END
    ) STORED,
    ADD COLUMN is_vip            boolean NOT NULL DEFAULT false,
    ADD COLUMN segment           text
        CHECK (segment IN ('new', 'returning', 'loyal', 'vip', 'at_risk'));
CREATE INDEX clients_live_segment ON clients (store_id, segment) WHERE deleted_at IS NULL;
-- the daily job: clients whose segment depends on how long ago they last ordered
CREATE INDEX clients_last_order ON clients (last_order_at) WHERE deleted_at IS NULL
    AND total_orders > 0;

CREATE TABLE orders (
    store_id       uuid NOT NULL REFERENCES stores (id),
    order_id       text NOT NULL,
    client_id      uuid NOT NULL REFERENCES clients (id),
    currency       text NOT NULL,
    total_minor    bigint NOT NULL CHECK (total_minor >= 0),
    refunded_minor bigint NOT NULL DEFAULT 0 CHECK (refunded_minor >= 0),
    placed_at      timestamptz NOT NULL,
    paid_at        timestamptz,
    cancelled_at   timestamptz,
    updated_at     timestamptz NOT NULL,
    PRIMARY KEY (store_id, order_id)
);
CREATE INDEX orders_client ON orders (client_id, placed_at DESC);

-- Every event applied, once: a replayed event finds its row and changes nothing.
CREATE TABLE order_events (
    store_id     uuid NOT NULL,
    order_id     text NOT NULL,
    type         text NOT NULL CHECK (type IN ('order.placed', 'order.paid', 'order.refunded',
                                               'order.cancelled')),
    occurred_at  timestamptz NOT NULL,
    client_id    uuid NOT NULL,
    amount_minor bigint,          -- placed: the total; refunded: refunded so far
    currency     text NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (store_id, order_id, type, occurred_at)
);
CREATE INDEX order_events_client ON order_events (client_id, occurred_at);

CREATE TABLE client_addresses (
    id          uuid PRIMARY KEY,
    store_id    uuid NOT NULL REFERENCES stores (id),
    client_id   uuid NOT NULL REFERENCES clients (id),
    type        text NOT NULL CHECK (type IN ('billing', 'shipping')),
    is_default  boolean NOT NULL DEFAULT false,
    first_name  text,
    last_name   text,
    company     text,
    address1    text NOT NULL,
    address2    text,
    city        text NOT NULL,
    state       text,
    pincode     text,
    country     text,
    phone       text,
    fingerprint text NOT NULL,    -- the address normalized: an equal one is not added again
    source      text NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    UNIQUE (client_id, type, fingerprint)
);
-- One default per client and type.
CREATE UNIQUE INDEX client_addresses_one_default ON client_addresses (client_id, type)
    WHERE is_default;

-- The segment rules, in one place (the orders service and the daily job both ask it):
-- at_risk: ordered before, but not for at_risk_days; else vip; loyal: loyal_orders or more;
-- returning: returning_orders or more; new: one order within new_days; else none.
CREATE FUNCTION client_segment(total_orders integer, is_vip boolean, last_order_at timestamptz,
                               now timestamptz, new_days integer, returning_orders integer,
                               loyal_orders integer, at_risk_days integer)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN total_orders < 1 THEN NULL
        WHEN last_order_at < now - make_interval(days => at_risk_days) THEN 'at_risk'
        WHEN is_vip THEN 'vip'
        WHEN total_orders >= loyal_orders THEN 'loyal'
        WHEN total_orders >= returning_orders THEN 'returning'
        WHEN last_order_at >= now - make_interval(days => new_days) THEN 'new'
        END
$$;

-- Digits after the decimal point of a currency's major unit (ISO 4217): a spend threshold in
-- major units is compared with totals in minor units.
CREATE FUNCTION minor_digits(currency text) RETURNS integer LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN currency IN ('BIF', 'CLP', 'DJF', 'GNF', 'ISK', 'JPY', 'KMF', 'KRW', 'PYG', 'RWF',
                          'UGX', 'UYI', 'VND', 'VUV', 'XAF', 'XOF', 'XPF') THEN 0
        WHEN currency IN ('BHD', 'IQD', 'JOD', 'KWD', 'LYD', 'OMR', 'TND') THEN 3
        ELSE 2 END
$$;

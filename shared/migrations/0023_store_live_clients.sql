-- How many live clients each store has, per status: the total of the list with no filter
-- (GET /v1/clients, the page every member opens first) and with only `status`, exact at any size
-- and read in one lookup, instead of counting the first 10,001 through an index, which reads the
-- heap wherever the visibility map lost its mark. Kept by the statement triggers that keep
-- store_tags (migration 0010), in the same shards (a connection writes its backend pid modulo
-- 16) and, for updates, in the same pass over the transition tables. Counters are written before
-- tags in every branch, so two transactions take the rows in one order.
LOCK TABLE clients IN SHARE ROW EXCLUSIVE MODE;  -- no writer between the count and the trigger

CREATE TABLE store_live_clients (
    store_id uuid NOT NULL,
    status   text NOT NULL,
    shard    smallint NOT NULL,
    clients  integer NOT NULL,  -- a shard may go negative; the sum is exact
    PRIMARY KEY (store_id, status, shard)
);

INSERT INTO store_live_clients (store_id, status, shard, clients)
SELECT store_id, status, 0, count(*) FROM clients WHERE deleted_at IS NULL
GROUP BY store_id, status;

CREATE OR REPLACE FUNCTION store_tags_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO store_live_clients AS s (store_id, status, shard, clients)
        SELECT store_id, status, pg_backend_pid() % 16, count(*) FROM new_rows
        WHERE deleted_at IS NULL GROUP BY store_id, status ORDER BY store_id, status
        ON CONFLICT (store_id, status, shard) DO UPDATE SET clients = s.clients + excluded.clients;
        INSERT INTO store_tags AS s (store_id, tag, shard, clients)
        SELECT store_id, t, pg_backend_pid() % 16, count(*) FROM new_rows, unnest(tags) t
        WHERE deleted_at IS NULL GROUP BY store_id, t ORDER BY store_id, t
        ON CONFLICT (store_id, tag, shard) DO UPDATE SET clients = s.clients + excluded.clients;
    ELSIF TG_OP = 'UPDATE' THEN
        -- only the rows whose tags, status, archive or store changed (most updates touch none),
        -- one pass for both: PostgreSQL runs the unreferenced tags CTE after the main
        -- statement, so here too the counter is written first
        WITH d AS (
            SELECT c.store_id, c.status, c.tags, c.live, c.n
            FROM new_rows nr JOIN old_rows o USING (id),
                LATERAL (VALUES (nr.store_id, nr.status, nr.tags, nr.deleted_at IS NULL, 1),
                                (o.store_id, o.status, o.tags, o.deleted_at IS NULL, -1))
                    AS c(store_id, status, tags, live, n)
            WHERE nr.tags IS DISTINCT FROM o.tags OR nr.status <> o.status
               OR (nr.deleted_at IS NULL) <> (o.deleted_at IS NULL)
               OR nr.store_id <> o.store_id
        ), tagged AS (
            INSERT INTO store_tags AS s (store_id, tag, shard, clients)
            SELECT store_id, t, pg_backend_pid() % 16, sum(n) FROM d, unnest(d.tags) t
            WHERE d.live
            GROUP BY store_id, t HAVING sum(n) <> 0 ORDER BY store_id, t
            ON CONFLICT (store_id, tag, shard) DO UPDATE SET clients = s.clients + excluded.clients
        )
        INSERT INTO store_live_clients AS s (store_id, status, shard, clients)
        SELECT store_id, status, pg_backend_pid() % 16, sum(n) FROM d WHERE live
        GROUP BY store_id, status HAVING sum(n) <> 0 ORDER BY store_id, status
        ON CONFLICT (store_id, status, shard) DO UPDATE SET clients = s.clients + excluded.clients;
    ELSE
        INSERT INTO store_live_clients AS s (store_id, status, shard, clients)
        SELECT store_id, status, pg_backend_pid() % 16, -count(*) FROM old_rows
        WHERE deleted_at IS NULL GROUP BY store_id, status ORDER BY store_id, status
        ON CONFLICT (store_id, status, shard) DO UPDATE SET clients = s.clients + excluded.clients;
        INSERT INTO store_tags AS s (store_id, tag, shard, clients)
        SELECT store_id, t, pg_backend_pid() % 16, -count(*) FROM old_rows, unnest(tags) t
        WHERE deleted_at IS NULL GROUP BY store_id, t ORDER BY store_id, t
        ON CONFLICT (store_id, tag, shard) DO UPDATE SET clients = s.clients + excluded.clients;
    END IF;
    RETURN NULL;
END $$;

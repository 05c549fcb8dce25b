-- Reads (the "operate on clients" issue): the list's sorts and filters, substring search, and
-- per-store tag counts for autocomplete.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- `q` is a case-insensitive substring of name, email, phone digits or company: one lower-cased
-- text per client, indexed by trigrams (a LIKE '%…%' of 3 characters or more uses the index).
ALTER TABLE clients ADD COLUMN search text GENERATED ALWAYS AS (
    lower(coalesce(name, '') || ' ' || coalesce(email, '') || ' '
          || coalesce(regexp_replace(phone, '[^0-9]', '', 'g'), '') || ' '
          || coalesce(company, ''))) STORED;
CREATE INDEX clients_search_trgm ON clients USING gin (search gin_trgm_ops);

-- Keyset pagination for each sort, live and archived apart (archived lists are asked for).
CREATE INDEX clients_live_updated ON clients (store_id, updated_at DESC, id DESC)
    WHERE deleted_at IS NULL;
CREATE INDEX clients_live_created ON clients (store_id, created_at, id) WHERE deleted_at IS NULL;
CREATE INDEX clients_live_name ON clients (store_id, name, id) WHERE deleted_at IS NULL;
CREATE INDEX clients_archived ON clients (store_id, deleted_at) WHERE deleted_at IS NOT NULL;
-- status=BLOCKED (a few percent): its pages and its count without reading the others.
CREATE INDEX clients_live_status ON clients (store_id, status, updated_at DESC, id DESC)
    WHERE deleted_at IS NULL;
CREATE INDEX clients_tags ON clients USING gin (tags);

-- How many live clients carry each tag, per store: autocomplete ordered by use with exact
-- counts. Kept by statement triggers on clients, so every writer (resolver, import, commands,
-- erasure later) counts the same way: each statement adds its net change per (store, tag), in
-- (store, tag) order. A tag's count is the sum of up to 16 rows, one per shard: a connection
-- always writes its own (its backend pid modulo 16), so two upsert workers adding "vip" at once
-- do not queue on one counter row until the other commits. (One row per tag cost ingest 18%:
-- 2,700 instead of 3,300 msgs/s in bench/ingest.py, every record tagged from 4 tags.) A shard
-- may go negative (added by one connection, removed by another); the sum is exact.
CREATE TABLE store_tags (
    store_id uuid NOT NULL,
    tag      text NOT NULL,
    shard    smallint NOT NULL,
    clients  integer NOT NULL,
    PRIMARY KEY (store_id, tag, shard)
);
CREATE INDEX store_tags_prefix ON store_tags (store_id, tag text_pattern_ops);

INSERT INTO store_tags (store_id, tag, shard, clients)
SELECT store_id, t, 0, count(*) FROM clients, unnest(tags) t
WHERE deleted_at IS NULL GROUP BY store_id, t;

CREATE FUNCTION store_tags_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO store_tags AS s (store_id, tag, shard, clients)
        SELECT store_id, t, pg_backend_pid() % 16, count(*) FROM new_rows, unnest(tags) t
        WHERE deleted_at IS NULL GROUP BY store_id, t ORDER BY store_id, t
        ON CONFLICT (store_id, tag, shard) DO UPDATE SET clients = s.clients + excluded.clients;
    ELSIF TG_OP = 'UPDATE' THEN
        -- only the rows whose tags or archive changed (most updates touch neither)
        INSERT INTO store_tags AS s (store_id, tag, shard, clients)
        SELECT store_id, t, pg_backend_pid() % 16, sum(n) FROM (
            SELECT c.store_id, c.tags, c.live, c.n FROM new_rows nr JOIN old_rows o USING (id),
                LATERAL (VALUES (nr.store_id, nr.tags, nr.deleted_at IS NULL, 1),
                                (o.store_id, o.tags, o.deleted_at IS NULL, -1))
                    AS c(store_id, tags, live, n)
            WHERE nr.tags IS DISTINCT FROM o.tags
               OR (nr.deleted_at IS NULL) <> (o.deleted_at IS NULL)) d, unnest(d.tags) t
        WHERE d.live
        GROUP BY store_id, t HAVING sum(n) <> 0 ORDER BY store_id, t
        ON CONFLICT (store_id, tag, shard) DO UPDATE SET clients = s.clients + excluded.clients;
    ELSE
        INSERT INTO store_tags AS s (store_id, tag, shard, clients)
        SELECT store_id, t, pg_backend_pid() % 16, -count(*) FROM old_rows, unnest(tags) t
        WHERE deleted_at IS NULL GROUP BY store_id, t ORDER BY store_id, t
        ON CONFLICT (store_id, tag, shard) DO UPDATE SET clients = s.clients + excluded.clients;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER store_tags_on_insert AFTER INSERT ON clients
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION store_tags_count();
CREATE TRIGGER store_tags_on_update AFTER UPDATE ON clients
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION store_tags_count();
CREATE TRIGGER store_tags_on_delete AFTER DELETE ON clients
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION store_tags_count();

-- A client's timeline reads its messages newest first.
CREATE INDEX messages_client ON messages (client_id, created_at);

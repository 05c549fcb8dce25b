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
CREATE INDEX clients_tags ON clients USING gin (tags);

-- How many live clients carry each tag, per store: autocomplete ordered by use with exact
-- counts. Kept by statement triggers on clients, so every writer (resolver, import, commands,
-- erasure later) counts the same way: each statement adds its net change per (store, tag), in
-- (store, tag) order so that concurrent statements take the counter rows' locks in one order.
CREATE TABLE store_tags (
    store_id uuid NOT NULL,
    tag      text NOT NULL,
    clients  integer NOT NULL,  -- no CHECK >= 0: an ON CONFLICT insert checks the proposed
                                -- row (the negative delta) before it finds the conflict
    PRIMARY KEY (store_id, tag)
);
CREATE INDEX store_tags_prefix ON store_tags (store_id, tag text_pattern_ops);

INSERT INTO store_tags (store_id, tag, clients)
SELECT store_id, t, count(*) FROM clients, unnest(tags) t
WHERE deleted_at IS NULL GROUP BY store_id, t;

CREATE FUNCTION store_tags_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO store_tags AS s (store_id, tag, clients)
        SELECT store_id, t, count(*) FROM new_rows, unnest(tags) t
        WHERE deleted_at IS NULL GROUP BY store_id, t ORDER BY store_id, t
        ON CONFLICT (store_id, tag) DO UPDATE SET clients = s.clients + excluded.clients;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO store_tags AS s (store_id, tag, clients)
        SELECT store_id, t, sum(n) FROM (
            SELECT store_id, t, 1 AS n FROM new_rows, unnest(tags) t WHERE deleted_at IS NULL
            UNION ALL
            SELECT store_id, t, -1 FROM old_rows, unnest(tags) t WHERE deleted_at IS NULL) d
        GROUP BY store_id, t HAVING sum(n) <> 0 ORDER BY store_id, t
        ON CONFLICT (store_id, tag) DO UPDATE SET clients = s.clients + excluded.clients;
    ELSE
        UPDATE store_tags s SET clients = s.clients - d.n
        FROM (SELECT store_id, t, count(*) AS n FROM old_rows, unnest(tags) t
              WHERE deleted_at IS NULL GROUP BY store_id, t) d
        WHERE s.store_id = d.store_id AND s.tag = d.t;
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

-- Tables with rows and no statistics yet, analyzed (shared/fresh_statistics.py says why): only
-- the schema's own tables this role may analyze, each once it has rows; returns those it
-- analyzed. Nothing to do is a catalog query.
CREATE FUNCTION analyze_fresh_tables() RETURNS SETOF regclass LANGUAGE plpgsql AS $$
DECLARE
    t regclass;
BEGIN
    FOR t IN
        SELECT c.oid::regclass FROM pg_class c
        WHERE c.relnamespace = current_schema()::regnamespace
          AND c.relkind IN ('r', 'p')
          AND pg_has_role(c.relowner, 'USAGE')
          AND pg_relation_size(c.oid) > 0
          -- never analyzed; or analyzed, or vacuumed, when empty and with live rows now (the
          -- statistics system's count trails the writes by a second or so; a first load's
          -- table needs no count: it was never analyzed)
          AND (coalesce(pg_stat_get_last_analyze_time(c.oid),
                        pg_stat_get_last_autoanalyze_time(c.oid)) IS NULL
               OR (c.reltuples = 0 AND pg_stat_get_live_tuples(c.oid) > 0))
        ORDER BY c.oid
    LOOP
        -- A table someone else is vacuuming or analyzing is left for the next call: waiting
        -- would hold a pool connection, and past deadlock_timeout cancel autovacuum's work.
        BEGIN
            PERFORM set_config('lock_timeout', '100ms', true);
            EXECUTE format('ANALYZE %s', t);
            RETURN NEXT t;
        EXCEPTION WHEN lock_not_available THEN
            NULL;
        END;
    END LOOP;
END $$;

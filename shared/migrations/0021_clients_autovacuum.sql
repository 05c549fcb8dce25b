-- The list's counts read `clients` by index-only scans (the status filter's on clients_live_status,
-- no filter's on a live index), and an index-only scan skips the heap only on pages the
-- visibility map marks all-visible: VACUUM sets the mark, any change to a row clears its page's.
-- At PostgreSQL's default thresholds a table is vacuumed once 20% of it changed (or was inserted
-- since the last vacuum): 200,000 clients of a million. Measured on bench/reads.py's million
-- clients after its 21,000 tag commands, never vacuumed since: status=BLOCKED's first page
-- p50 13-15 ms, the count a bitmap heap scan through 9,400 pages; vacuumed, 1.6 ms for the count
-- (index-only), 4-8 ms for the page. 1% keeps the map nearly whole; a vacuum reads only the pages
-- whose mark was cleared, so the extra runs cost what changed.
ALTER TABLE clients SET (autovacuum_vacuum_scale_factor = 0.01,
                         autovacuum_vacuum_insert_scale_factor = 0.01);

CREATE_JOB = """
INSERT INTO import_jobs (id, store_id, filename, mode, source_label, unmapped_columns)
SELECT $1, s.id, $3, $4, $5, $6 FROM stores s WHERE s.id = $2
RETURNING id"""

# Closing the job's size; if every row was already processed, this is when it is done.
SEAL_JOB = """
UPDATE import_jobs SET total = $2, chunks_total = $3,
       finished_at = CASE WHEN processed = $2 THEN now() END
WHERE id = $1
RETURNING id, processed, total, created, updated, skipped, failed"""

JOB = """
SELECT id, store_id, filename, mode, source_label, unmapped_columns, total, chunks_total,
       processed, created, updated, skipped, failed, created_at, finished_at
FROM import_jobs WHERE id = $1"""

CHUNK_DONE = "SELECT 1 FROM import_chunks WHERE job_id = $1 AND chunk_no = $2"
MARK_CHUNK = """
INSERT INTO import_chunks (job_id, chunk_no) VALUES ($1, $2)
ON CONFLICT DO NOTHING RETURNING chunk_no"""

ADD_COUNTS = """
UPDATE import_jobs
SET processed = processed + $2, created = created + $3, updated = updated + $4,
    skipped = skipped + $5, failed = failed + $6,
    finished_at = CASE WHEN total = processed + $2 THEN now() END
WHERE id = $1
RETURNING id, processed, total, created, updated, skipped, failed"""

COUNTS = """
SELECT id, processed, total, created, updated, skipped, failed FROM import_jobs WHERE id = $1"""

# Which request created each matched client: an earlier row of the same file, or not.
CREATING_TOUCHES = """
SELECT client_id, request_id FROM client_touches
WHERE client_id = ANY($1::uuid[]) AND outcome = 'created'"""

RESULTS = """
SELECT row, status, client_id, column_name, message
FROM import_rows WHERE job_id = $1 ORDER BY row"""

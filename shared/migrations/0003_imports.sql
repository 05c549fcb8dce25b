-- Bulk import jobs, their processed chunks (each counted once), and one result per data row.
CREATE TABLE import_jobs (
    id               uuid PRIMARY KEY,
    store_id         uuid NOT NULL REFERENCES stores (id),
    filename         text NOT NULL,
    mode             text NOT NULL CHECK (mode IN ('skip', 'update')),
    source_label     text NOT NULL,
    unmapped_columns text[] NOT NULL DEFAULT '{}',
    total            integer,          -- data rows; set once the file has been read to the end
    chunks_total     integer,
    processed        integer NOT NULL DEFAULT 0,
    created          integer NOT NULL DEFAULT 0,
    updated          integer NOT NULL DEFAULT 0,
    skipped          integer NOT NULL DEFAULT 0,
    failed           integer NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz,
    CHECK (processed = created + updated + skipped + failed)
);

-- A chunk's counts are added in the same transaction that records it here: a chunk delivered
-- twice is counted once.
CREATE TABLE import_chunks (
    job_id       uuid NOT NULL REFERENCES import_jobs (id),
    chunk_no     integer NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, chunk_no)
);

CREATE TABLE import_rows (
    job_id      uuid NOT NULL REFERENCES import_jobs (id),
    row         integer NOT NULL,
    status      text NOT NULL CHECK (status IN ('created', 'updated', 'skipped', 'failed')),
    client_id   uuid,
    column_name text,
    message     text,
    PRIMARY KEY (job_id, row)
);

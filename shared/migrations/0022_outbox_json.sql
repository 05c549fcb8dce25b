-- The outbox keeps each event as the text pydantic wrote (`json`: checked to be JSON, stored as
-- is) instead of `jsonb` (parsed into a binary tree on insert, printed back to text by the relay,
-- read once and deleted). See shared/outbox.py for the measurement.
ALTER TABLE outbox ALTER COLUMN payload TYPE json USING payload::json;

"""Bulk import: files split into chunks, processed in parallel through the one resolver."""

"""Integration ingest: validate, authenticate, normalize; bad input to the dead-letter topic."""

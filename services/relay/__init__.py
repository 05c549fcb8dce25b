"""The outbox relay: client events from PostgreSQL to `clients.events.v1`, at least once."""

"""Upsert resolution: consumes `clients.upsert.v1`, runs every command through the one resolver,
publishes the results keyed by request id.

Looking for the one-client-per-email rule? The resolver is `shared/resolver.py` (its SQL in
`shared/resolver_sql.py`), in `shared/` because every write path runs it: this service, the
imports and inbound messages. There:
- one live client per (store, email key): the partial unique index `clients_live_email_key`
  (shared/migrations/0002_clients.sql); a create that loses the race retries and matches;
- one live client per (integration key, external id): the primary key of `client_external_ids`,
  and a mapping is never taken from a live client (ATTACH_EXTERNAL_IDS, REPOINT_EXTERNAL_IDS);
- a redelivered command changes nothing: `client_touches`, keyed by (store, key, request id).
"""

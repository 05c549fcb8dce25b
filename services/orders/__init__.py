"""Orders feed the client: `orders.events.v1` into per-client stats, VIP and segment, order
timeline entries and addresses; and the daily job that moves segments as time passes."""

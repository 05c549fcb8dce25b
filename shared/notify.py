"""PostgreSQL NOTIFY: wakes a loop that LISTENs on a channel once the sender commits (the relay on
new outbox rows, the senders on due messages, the dispatcher on due deliveries)."""

from shared.db import Connection

NOTIFY = "SELECT pg_notify($1, '')"


async def notify(conn: Connection, channel: str) -> None:
    """Delivered at commit (and not at all on rollback), to every listener of `channel`."""
    await conn.execute(NOTIFY, channel)

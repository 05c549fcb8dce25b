"""A database of a bench's own beside DATABASE_URL's, so that what a bench writes (a million
clients, an append-only audit log) never slows the next bench or the tests down."""

from urllib.parse import urlsplit, urlunsplit

import asyncpg

from shared.migrate import migrate


async def scratch_database(database_url: str, suffix: str, fresh: bool) -> str:
    """The URL of `<database>_<suffix>` on the same server: created (dropped first when
    `fresh`) and migrated."""
    parts = urlsplit(database_url)
    name = parts.path.lstrip("/") + "_" + suffix
    admin = await asyncpg.connect(urlunsplit(parts._replace(path="/postgres")))
    try:
        if fresh:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = urlunsplit(parts._replace(path=f"/{name}"))
    await migrate(url)
    return url


async def drop_database(url: str) -> None:
    parts = urlsplit(url)
    admin = await asyncpg.connect(urlunsplit(parts._replace(path="/postgres")))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{parts.path.lstrip("/")}" WITH (FORCE)')
    finally:
        await admin.close()

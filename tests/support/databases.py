"""Databases of their own on DATABASE_URL's server: a test's scratch database (dropped after) and
a bench's (kept between runs, or made afresh). Names are ours, never input."""

from urllib.parse import urlsplit, urlunsplit

import asyncpg


def database_url_for(url: str, dbname: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{dbname}"))


async def create_database(url: str, dbname: str, fresh: bool = False) -> str:
    """The URL of `dbname` beside `url`'s database: created if missing (dropped first when
    `fresh`)."""
    admin = await asyncpg.connect(database_url_for(url, "postgres"))
    try:
        if fresh:
            await admin.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", dbname):
            await admin.execute(f'CREATE DATABASE "{dbname}"')
    finally:
        await admin.close()
    return database_url_for(url, dbname)


async def drop_database(url: str) -> None:
    """Drops `url`'s database, whoever is connected to it."""
    admin = await asyncpg.connect(database_url_for(url, "postgres"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{urlsplit(url).path.lstrip("/")}" '
                            "WITH (FORCE)")
    finally:
        await admin.close()

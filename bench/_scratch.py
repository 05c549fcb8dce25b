"""A database of a bench's own beside DATABASE_URL's, so that what a bench writes (a million
clients, an append-only audit log) never slows the next bench or the tests down."""

from urllib.parse import urlsplit

from shared.migrate import migrate
from tests.support.databases import create_database


async def scratch_database(database_url: str, suffix: str, fresh: bool) -> str:
    """The URL of `<database>_<suffix>` on the same server: created (dropped first when
    `fresh`) and migrated."""
    url = await create_database(database_url, urlsplit(database_url).path.lstrip("/") + "_"
                                + suffix, fresh=fresh)
    await migrate(url)
    return url

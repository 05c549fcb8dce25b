"""Versioned SQL migrations: `shared/migrations/NNNN_name.sql`, each applied once, in order.

Runners take a session advisory lock first, so two workers starting together cannot race: the
second waits, then finds nothing left to do. A file changed after it was applied is refused.
"""

import hashlib
import re
from dataclasses import dataclass
from importlib import resources

import asyncpg
import structlog

log = structlog.get_logger(__name__)

# pg_advisory_lock key: any constant unique to this project's migrations.
LOCK_KEY = 0x636C69656E7473  # "clients"

_FILENAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

CREATE_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)"""
APPLIED = "SELECT version, checksum FROM schema_migrations"
RECORD = "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)"


class MigrationError(Exception):
    def __init__(self, version: int, message: str) -> None:
        super().__init__(f"migration {version:04d}: {message}")
        self.version = version


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations() -> list[Migration]:
    found = []
    for entry in resources.files("shared.migrations").iterdir():
        match = _FILENAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(versions[0], "two files share a version number")
    return found


async def migrate(database_url: str) -> list[int]:
    """Apply what is missing; return the versions applied by this call."""
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", LOCK_KEY)
        try:
            await conn.execute(CREATE_LEDGER)
            applied = {r["version"]: r["checksum"] for r in await conn.fetch(APPLIED)}
            done = []
            for migration in load_migrations():
                if migration.version in applied:
                    if applied[migration.version] != migration.checksum:
                        raise MigrationError(migration.version, "changed after it was applied")
                    continue
                async with conn.transaction():
                    await conn.execute(migration.sql)
                    await conn.execute(RECORD, migration.version, migration.name,
                                       migration.checksum)
                log.info("migration applied", version=migration.version, name=migration.name)
                done.append(migration.version)
            return done
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", LOCK_KEY)
    finally:
        await conn.close()

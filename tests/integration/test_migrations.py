import asyncio

import asyncpg
import pytest

from shared import migrate as migrations
from shared.migrate import MigrationError, load_migrations, migrate


def test_migration_files_are_numbered_without_gaps() -> None:
    versions = [m.version for m in load_migrations()]
    assert versions == list(range(1, len(versions) + 1))


async def test_applying_twice_is_a_no_op(scratch_database: str) -> None:
    every = [m.version for m in load_migrations()]
    assert await migrate(scratch_database) == every
    conn = await asyncpg.connect(scratch_database)
    try:
        tables = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        assert await migrate(scratch_database) == []
        assert await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'") == tables
        assert await conn.fetchval("SELECT count(*) FROM schema_migrations") == len(every)
    finally:
        await conn.close()


async def test_concurrent_runners_apply_each_migration_once(scratch_database: str) -> None:
    results = await asyncio.gather(*(migrate(scratch_database) for _ in range(4)))
    applied = sorted(v for r in results for v in r)
    assert applied == [m.version for m in load_migrations()]


async def test_a_migration_edited_after_it_was_applied_is_refused(
        scratch_database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    await migrate(scratch_database)
    edited = [migrations.Migration(m.version, m.name, m.sql + "\n-- edited")
              for m in load_migrations()]
    monkeypatch.setattr(migrations, "load_migrations", lambda: edited)
    with pytest.raises(MigrationError, match="changed after it was applied"):
        await migrate(scratch_database)

"""The resolver under races forced into their worst interleaving (hardening, defects 4 and 5):
one transaction is held open mid-way while the other runs into it."""

import asyncio
import uuid
from uuid import UUID

import pytest

from shared import stores
from shared.db import Pool
from shared.resolver import _resolve, resolve_batch
from tests.conftest import eventually
from tests.factories import command


@pytest.fixture
def pool(private_pool: Pool) -> Pool:
    return private_pool


@pytest.fixture
async def key(pool: Pool) -> stores.IssuedKey:
    store = await stores.create_store(pool, f"races {uuid.uuid4().hex[:8]}")
    return await stores.create_key(pool, store.id, "WooCommerce")


async def live_clients(pool: Pool, store_id: UUID) -> int:
    n: int = await pool.fetchval(
        "SELECT count(*) FROM clients WHERE store_id = $1 AND deleted_at IS NULL", store_id)
    return n


async def waits_on(pool: Pool, pid: int) -> bool:
    """Some session is waiting for a lock that backend `pid` holds."""
    return bool(await pool.fetchval(
        "SELECT count(*) FROM pg_locks WHERE NOT granted AND $1 = ANY(pg_blocking_pids(pid))",
        pid))


async def test_one_client_per_external_id_when_two_emails_race(
        pool: Pool, key: stores.IssuedKey) -> None:
    """Two records with one external id and different emails, resolved at the same time (as two
    upsert processes do): the second must match the first's client, not create a second one."""
    first = command(key, email="first@race.com", external_id="woo-1")
    second = command(key, email="second@race.com", external_id="woo-1")
    async with pool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        (a,) = await _resolve(conn, [first])           # written, not yet committed
        racer = asyncio.create_task(resolve_batch(pool, [second]))
        await eventually(lambda: racer.done() or waits_on(pool, conn.get_server_pid()))
        await tx.commit()
    (b,) = await racer
    assert a.outcome == "created"
    assert (b.outcome, b.client_id) == ("matched_external_id", a.client_id)
    assert await live_clients(pool, key.store_id) == 1
    mapped = await pool.fetch("SELECT client_id FROM client_external_ids "
                              "WHERE integration_key_id = $1 AND external_id = 'woo-1'", key.id)
    assert [r["client_id"] for r in mapped] == [a.client_id]


async def test_an_external_id_of_an_archived_client_moves_to_the_new_one(
        pool: Pool, key: stores.IssuedKey) -> None:
    (a,) = await resolve_batch(pool, [command(key, email="gone@x.com", external_id="e-9")])
    await pool.execute("UPDATE clients SET deleted_at = now() WHERE id = $1", a.client_id)
    (b,) = await resolve_batch(pool, [command(key, email="new@x.com", external_id="e-9")])
    (c,) = await resolve_batch(pool, [command(key, email="other@x.com", external_id="e-9")])
    assert b.outcome == "created"
    assert (c.outcome, c.client_id) == ("matched_external_id", b.client_id)


async def test_a_request_id_is_scoped_to_its_integration_key(
        pool: Pool, key: stores.IssuedKey) -> None:
    other = await stores.create_key(pool, key.store_id, "Backoffice")
    mine = command(key, request_id="r-1", email="mine@x.com")
    theirs = command(other, request_id="r-1", email="theirs@x.com")
    (a,) = await resolve_batch(pool, [mine])
    (b,) = await resolve_batch(pool, [theirs])
    both = await resolve_batch(pool, [mine, theirs])   # replays answer from their own record
    assert (a.outcome, b.outcome) == ("created", "created")
    assert a.client_id != b.client_id
    assert [r.client_id for r in both] == [a.client_id, b.client_id]
    assert await live_clients(pool, key.store_id) == 2

"""The 3-step resolver on the real database (seed 000, "Smart upsert"). A database of this
module's own: its outbox rows stay put, as no relay runs against it. Races are forced into their
worst interleaving (hardening, defects 4 and 5): one transaction is held open mid-way while the
other runs into it."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID

import pytest
import structlog
import structlog.testing
from asyncpg.transaction import Transaction

from shared import stores
from shared.db import Pool
from shared.resolver import _resolve, resolve_batch
from tests.conftest import eventually
from tests.support.factories import command


@pytest.fixture
def pool(private_pool: Pool) -> Pool:
    return private_pool



async def clients_in(pool: Pool, store_id: UUID) -> list[dict[str, Any]]:
    rows = await pool.fetch("SELECT * FROM clients WHERE store_id = $1 ORDER BY created_at",
                            store_id)
    return [dict(r) for r in rows]


async def events_for(pool: Pool, client_id: UUID) -> list[str]:
    rows = await pool.fetch("SELECT payload->>'type' AS type FROM outbox WHERE key = $1 "
                            "ORDER BY seq", str(client_id))
    return [r["type"] for r in rows]


async def test_same_email_in_case_and_whitespace_variants_is_one_client(
        pool: Pool, key: stores.IssuedKey) -> None:
    first, = await resolve_batch(pool, [command(key, email="Jane.Doe@Example.com")])
    again = await resolve_batch(pool, [command(key, email="  JANE.DOE@example.COM "),
                                       command(key, email="jane.doe@example.com")])
    assert first.outcome == "created"
    assert not first.duplicate
    assert [(r.outcome, r.duplicate, r.client_id) for r in again] == \
        [("matched_email", True, first.client_id)] * 2
    (row,) = await clients_in(pool, key.store_id)
    assert row["email"] == "Jane.Doe@Example.com"  # kept as first entered
    assert row["email_key"] == "jane.doe@example.com"


async def test_duplicates_inside_one_batch_make_one_row(pool: Pool, key: stores.IssuedKey) -> None:
    results = await resolve_batch(pool, [command(key, email="a@shop.com"),
                                         command(key, email="A@SHOP.COM", company="Acme"),
                                         command(key, email="b@shop.com")])
    assert [r.outcome for r in results] == ["created", "matched_email", "created"]
    assert results[0].client_id == results[1].client_id
    rows = await clients_in(pool, key.store_id)
    assert len(rows) == 2
    assert {r["company"] for r in rows} == {"Acme", None}  # the later touch filled a blank


async def test_gmail_dots_and_plus_tags_are_different_people(pool: Pool,
                                                             key: stores.IssuedKey) -> None:
    results = await resolve_batch(pool, [command(key, email="jane.doe@gmail.com"),
                                         command(key, email="janedoe@gmail.com"),
                                         command(key, email="jane.doe+shop@gmail.com")])
    assert [r.outcome for r in results] == ["created"] * 3


async def test_external_id_matches_before_email_and_is_attached_on_email_match(
        pool: Pool, key: stores.IssuedKey) -> None:
    created, = await resolve_batch(pool, [command(key, email="ext@shop.com")])
    attached, = await resolve_batch(pool, [command(key, email="EXT@shop.com", external_id="w-1")])
    assert attached.outcome == "matched_email"
    # next time the external id alone finds the client, even with another email on the record
    by_id, = await resolve_batch(pool, [command(key, email="new@shop.com", external_id="w-1")])
    assert by_id.outcome == "matched_external_id"
    assert created.client_id == attached.client_id == by_id.client_id
    (row,) = await clients_in(pool, key.store_id)
    assert row["external_ids"] == {str(key.id): "w-1"}
    assert row["email"] == "ext@shop.com"  # not blank: not overwritten


async def test_external_ids_belong_to_their_integration_key(pool: Pool,
                                                            key: stores.IssuedKey) -> None:
    other = await stores.create_key(pool, key.store_id, "Shopify")
    a, = await resolve_batch(pool, [command(key, email="one@shop.com", external_id="42")])
    b, = await resolve_batch(pool, [command(other, email="two@shop.com", external_id="42")])
    assert (a.outcome, b.outcome) == ("created", "created")
    assert a.client_id != b.client_id


async def test_create_is_stamped_with_its_source_and_later_touches_keep_it(
        pool: Pool, key: stores.IssuedKey) -> None:
    other = await stores.create_key(pool, key.store_id, "Shopify")
    await resolve_batch(pool, [command(key, email="src@shop.com", external_id="w-9")])
    await resolve_batch(pool, [command(other, label="Shopify", email="src@shop.com",
                                       external_id="s-1")])
    (row,) = await clients_in(pool, key.store_id)
    assert (row["source_label"], row["source_external_id"], row["source_integration_key_id"]) \
        == ("WooCommerce", "w-9", key.id)
    touches = await pool.fetch("SELECT outcome, source_label FROM client_touches "
                               "WHERE client_id = $1 ORDER BY at", row["id"])
    assert [(t["outcome"], t["source_label"]) for t in touches] == \
        [("created", "WooCommerce"), ("matched_email", "Shopify")]


async def test_same_email_in_two_stores_is_two_clients(pool: Pool, key: stores.IssuedKey) -> None:
    other_store = await stores.create_store(pool, "Sigma Labs")
    other_key = await stores.create_key(pool, other_store.id, "Woo")
    a, = await resolve_batch(pool, [command(key, email="both@shop.com")])
    b, = await resolve_batch(pool, [command(other_key, email="both@shop.com")])
    assert (a.outcome, b.outcome) == ("created", "created")
    assert a.client_id != b.client_id


async def test_an_archived_client_does_not_match_and_its_email_can_be_created_again(
        pool: Pool, key: stores.IssuedKey) -> None:
    old, = await resolve_batch(pool, [command(key, email="gone@shop.com", external_id="g-1")])
    await pool.execute("UPDATE clients SET deleted_at = now() WHERE id = $1", old.client_id)
    new, = await resolve_batch(pool, [command(key, email="gone@shop.com", external_id="g-1")])
    assert new.outcome == "created"
    assert new.client_id != old.client_id
    again, = await resolve_batch(pool, [command(key, email="x@y.com", external_id="g-1")])
    assert (again.outcome, again.client_id) == ("matched_external_id", new.client_id)


async def test_a_request_processed_twice_gives_the_same_result_and_writes_once(
        pool: Pool, key: stores.IssuedKey) -> None:
    cmd = command(key, request_id="req-1", email="once@shop.com")
    first, = await resolve_batch(pool, [cmd])
    second = await resolve_batch(pool, [cmd, cmd])
    assert second == [first, first]
    (row,) = await clients_in(pool, key.store_id)
    assert await events_for(pool, row["id"]) == ["client.created"]


async def test_events_created_updated_and_none_when_nothing_changed(
        pool: Pool, key: stores.IssuedKey) -> None:
    created, = await resolve_batch(pool, [command(key, email="ev@shop.com")])
    await resolve_batch(pool, [command(key, email="ev@shop.com")])            # nothing new
    await resolve_batch(pool, [command(key, email="ev@shop.com", phone="(415) 555-2671")])
    await resolve_batch(pool, [command(key, email="ev@shop.com", external_id="e-1")])
    assert created.client_id is not None
    assert await events_for(pool, created.client_id) == \
        ["client.created", "client.updated", "client.updated"]
    payload = await pool.fetchval("SELECT payload FROM outbox WHERE key = $1 ORDER BY seq DESC "
                                  "LIMIT 1", str(created.client_id))
    assert set(payload) == {"id", "type", "occurred_at", "store_id", "client", "changed"}
    assert payload["changed"] == ["external_ids"]
    assert payload["client"]["phone"] == "+14155552671"
    assert payload["client"]["external_ids"] == {str(key.id): "e-1"}
    assert "email_key" not in payload["client"]


async def test_concurrent_batches_of_the_same_people_make_one_row_each(
        pool: Pool, key: stores.IssuedKey) -> None:
    emails = [f"race{i}@shop.com" for i in range(50)]
    batches = [[command(key, email=e.upper() if n % 2 else e) for e in emails] for n in range(4)]
    results = await asyncio.gather(*(resolve_batch(pool, b) for b in batches))
    rows = await clients_in(pool, key.store_id)
    assert len(rows) == len(emails)
    outcomes = [r.outcome for batch in results for r in batch]
    assert outcomes.count("created") == len(emails)
    assert outcomes.count("matched_email") == 3 * len(emails)
    for i in range(len(emails)):
        assert len({batch[i].client_id for batch in results}) == 1


async def test_phone_only_clients_are_created_with_e164(pool: Pool, key: stores.IssuedKey) -> None:
    r, = await resolve_batch(pool, [command(key, phone="415-555-2671", name="Phone Only")])
    (row,) = await clients_in(pool, key.store_id)
    assert (r.outcome, row["phone"], row["email"]) == ("created", "+14155552671", None)
    assert (row["first_name"], row["last_name"]) == ("Phone", "Only")


async def test_a_command_the_database_refuses_is_rejected_and_its_neighbours_commit(
        pool: Pool, key: stores.IssuedKey) -> None:
    good = [command(key, email=f"n{i}@shop.com") for i in range(7)]
    orphan = command(key, email="x@shop.com").model_copy(update={"store_id": uuid.uuid4()})
    results = await resolve_batch(pool, [*good[:3], orphan, *good[3:]])
    assert [r.outcome for r in results] == ["created"] * 3 + ["rejected"] + ["created"] * 4
    refused = results[3]
    assert (refused.client_id, refused.errors[0].field) == (None, "store_id")
    assert "foreign key" in refused.errors[0].message
    assert len(await clients_in(pool, key.store_id)) == 7
    assert await pool.fetchval("SELECT count(*) FROM clients WHERE store_id = $1",
                               orphan.store_id) == 0


async def test_skip_mode_leaves_a_matched_client_as_it_is(pool: Pool,
                                                          key: stores.IssuedKey) -> None:
    first, = await resolve_batch(pool, [command(key, email="keep@shop.com", type="wholesale")])
    skip = command(key, email="KEEP@shop.com", name="Other Name", company="New Co",
                   phone="415-555-2671").model_copy(update={"on_match": "skip"})
    again, = await resolve_batch(pool, [skip])
    assert (again.outcome, again.client_id) == ("matched_email", first.client_id)
    (row,) = await clients_in(pool, key.store_id)
    assert (row["name"], row["company"], row["phone"], row["type"]) == \
        ("Jane Doe", None, None, "wholesale")
    assert await events_for(pool, row["id"]) == ["client.created"]


async def test_update_mode_overwrites_with_the_records_non_empty_fields(
        pool: Pool, key: stores.IssuedKey) -> None:
    await resolve_batch(pool, [command(key, email="upd@shop.com", company="Old Co",
                                       notes="keep me", type="wholesale", tags=["vip"])])
    update = command(key, email="upd@shop.com", name="Jane Q Public", company="New Co",
                     tags=["net-30"]).model_copy(update={"on_match": "update"})
    await resolve_batch(pool, [update])
    (row,) = await clients_in(pool, key.store_id)
    assert (row["name"], row["company"], row["notes"], row["type"], row["tags"]) == \
        ("Jane Q Public", "New Co", "keep me", "wholesale", ["vip", "net-30"])  # tags: union
    assert await events_for(pool, row["id"]) == ["client.created", "client.updated"]


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
    upsert processes do): the second must match the first's client, not create a second one.
    It waits for the first's commit before looking anything up, so its batch is done once (a
    batch rolled back and redone was a third of the database's time under bench.ingest)."""
    first = command(key, email="first@race.com", external_id="woo-1")
    second = command(key, email="second@race.com", external_id="woo-1")
    with structlog.testing.capture_logs() as logs:
        async with pool.acquire() as conn:
            tx = conn.transaction()
            await tx.start()
            (a,) = await _resolve(conn, [first])           # written, not yet committed
            racer = asyncio.create_task(resolve_batch(pool, [second]))
            await eventually(lambda: racer.done() or waits_on(pool, conn.get_server_pid()))
            await tx.commit()
        (b,) = await racer
    assert [e for e in logs if "retry" in e["event"]] == []
    assert a.outcome == "created"
    assert (b.outcome, b.client_id) == ("matched_external_id", a.client_id)
    assert await live_clients(pool, key.store_id) == 1
    mapped = await pool.fetch("SELECT client_id FROM client_external_ids "
                              "WHERE integration_key_id = $1 AND external_id = 'woo-1'", key.id)
    assert [r["client_id"] for r in mapped] == [a.client_id]


async def test_a_batch_goes_on_while_another_transaction_holds_one_of_its_people(
        pool: Pool, key: stores.IssuedKey) -> None:
    """Another worker's open transaction has external id woo-2: in a batch with a record of
    woo-2 (another email) and one of somebody else, the other person is committed at once; the
    record of woo-2 waits for that transaction, then matches its client."""
    first = command(key, email="held@race.com", external_id="woo-2")
    batch = [command(key, email="moved@race.com", external_id="woo-2"),
             command(key, email="free@race.com", external_id="woo-3")]
    async with pool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        (a,) = await _resolve(conn, [first])           # written, not yet committed
        racer = asyncio.create_task(resolve_batch(pool, batch))

        async def free_committed() -> bool:
            return bool(await pool.fetchval(
                "SELECT count(*) FROM clients WHERE store_id = $1 AND email_key = $2",
                key.store_id, "free@race.com"))
        await eventually(free_committed)
        assert not racer.done()
        await tx.commit()
    moved, free = await racer
    assert (moved.outcome, moved.client_id) == ("matched_external_id", a.client_id)
    assert free.outcome == "created"
    assert await live_clients(pool, key.store_id) == 2


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


async def test_a_match_keeps_the_wholesale_and_consignor_rules(pool: Pool,
                                                                 store: stores.Store) -> None:
    """Fill never gives a retail client wholesale terms; an update that would make a client
    with terms retail leaves it wholesale; a consignor code needs the flag."""
    key = await stores.create_key(pool, store.id, "Importer")
    (retail,) = await resolve_batch(pool, [command(key, email="retail@rules.example")])
    (again,) = await resolve_batch(pool, [command(
        key, email="retail@rules.example", type="wholesale", wholesale_terms="Net 30",
        tax_exempt=True, is_consignor=True, consignor_code="R1")])
    row = await pool.fetchrow("SELECT type, wholesale_terms, tax_exempt, is_consignor, "
                              "consignor_code FROM clients WHERE id = $1", retail.client_id)
    assert again.client_id == retail.client_id
    assert row is not None
    assert tuple(row) == ("retail", None, False, False, None)

    (wholesale,) = await resolve_batch(pool, [command(
        key, email="trade@rules.example", type="wholesale", wholesale_terms="net 60")])
    update = command(key, email="trade@rules.example", type="retail", company="Trade Co")
    await resolve_batch(pool, [update.model_copy(update={"on_match": "update"})])
    row = await pool.fetchrow("SELECT type, wholesale_terms, company FROM clients "
                              "WHERE id = $1", wholesale.client_id)
    assert row is not None
    assert tuple(row) == ("wholesale", "net_60", "Trade Co")


async def blocked_on_a_lock(pool: Pool, statement: str) -> bool:
    """Whether a backend running `statement` (its first words) waits for a row lock."""
    return bool(await pool.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
        "AND query LIKE $1 || '%'", statement))


@asynccontextmanager
async def holding(pool: Pool, client_id: UUID, *statements: str
                  ) -> AsyncIterator[Transaction]:
    """Another transaction that has run `statements` on the client ($1), uncommitted: the
    caller commits it."""
    async with pool.acquire() as holder:
        tx = holder.transaction()
        await tx.start()
        for statement in statements:
            await holder.execute(statement, client_id)
        yield tx


async def test_a_match_that_changes_nothing_does_not_wait_for_a_transaction_holding_the_client(
        pool: Pool, key: stores.IssuedKey) -> None:
    """An order batch or a command holds the client (FOR NO KEY UPDATE, uncommitted): a repeat
    of its record matches, records its touch and commits without waiting; a record that fills a
    blank waits for that transaction, then changes the row as it was committed."""
    (a,) = await resolve_batch(pool, [command(key, email="repeat@hold.example")])
    assert a.client_id is not None
    async with holding(pool, a.client_id,
                       "SELECT 1 FROM clients WHERE id = $1 FOR NO KEY UPDATE",
                       "UPDATE clients SET notes = 'held' WHERE id = $1") as tx:
        (again,) = await asyncio.wait_for(
            resolve_batch(pool, [command(key, email="Repeat@Hold.example")]), timeout=30)
        assert (again.outcome, again.client_id) == ("matched_email", a.client_id)
        filling = asyncio.create_task(resolve_batch(
            pool, [command(key, email="repeat@hold.example", company="Acme")]))
        await eventually(lambda: blocked_on_a_lock(pool, "\nSELECT * FROM clients"))
        assert not filling.done()
        await tx.commit()
    (filled,) = await filling
    assert (filled.outcome, filled.client_id) == ("matched_email", a.client_id)
    row = await pool.fetchrow("SELECT company, notes, version FROM clients WHERE id = $1",
                              a.client_id)
    assert row is not None
    assert dict(row) == {"company": "Acme", "notes": "held", "version": 2}


async def test_a_client_archived_while_an_unchanged_match_records_its_touch_is_not_matched(
        pool: Pool, key: stores.IssuedKey) -> None:
    """A command archives the client (FOR UPDATE, uncommitted) after the match has read it as
    live: the match's touch waits on the client's key, and once the archive commits the batch
    resolves again, creating the new client its email now makes; no touch is left on the
    archived one."""
    (a,) = await resolve_batch(pool, [command(key, email="late@archive.example")])
    assert a.client_id is not None
    async with holding(pool, a.client_id, "SELECT 1 FROM clients WHERE id = $1 FOR UPDATE",
                       "UPDATE clients SET deleted_at = now() WHERE id = $1") as tx:
        repeat = command(key, email="late@archive.example")
        racer = asyncio.create_task(resolve_batch(pool, [repeat]))
        await eventually(lambda: blocked_on_a_lock(pool, "\nINSERT INTO client_touches"))
        assert not racer.done()
        await tx.commit()
    (b,) = await racer
    assert b.outcome == "created"
    assert b.client_id != a.client_id
    assert await pool.fetchval("SELECT count(*) FROM client_touches WHERE request_id = $1 "
                               "AND client_id = $2", repeat.request_id, a.client_id) == 0
    assert await live_clients(pool, key.store_id) == 1

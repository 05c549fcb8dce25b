"""Commands on clients (the "operate on clients" issue): each with its event, version and audit
entry; idempotent command ids; expected_version and email conflicts; archive and restore; tags
one by one and in bulk; another store's id. The logic runs on a database of this module's own,
so its outbox and audit rows stay to be read (test_commands_pipeline.py: through Kafka)."""

import asyncio
import json
import uuid
from types import SimpleNamespace
from typing import Any
from uuid import UUID

import pytest

from schemas.commands import ClientCommand, CommandResult
from services.commands.logic import apply, commands_batch
from shared import stores
from shared.db import Pool
from shared.resolver import resolve_batch
from tests.conftest import eventually
from tests.support.factories import command as upsert

ANA = {"type": "member", "id": str(uuid.uuid4()), "name": "Ana"}


@pytest.fixture
def pool(private_pool: Pool) -> Pool:
    return private_pool



async def a_client(pool: Pool, key: stores.IssuedKey, email: str, **fields: Any) -> UUID:
    (r,) = await resolve_batch(pool, [upsert(key, email=email, **fields)])
    assert r.client_id is not None
    return r.client_id


def cmd(key: stores.IssuedKey, action: str, client_id: UUID | None = None,
        **fields: Any) -> ClientCommand:
    return ClientCommand.model_validate({
        "command_id": uuid.uuid4().hex, "store_id": str(key.store_id), "action": action,
        "actor": ANA, **({"client_id": str(client_id)} if client_id else {}), **fields})


async def last_event(pool: Pool, client_id: UUID) -> dict[str, Any]:
    payload: dict[str, Any] = await pool.fetchval(
        "SELECT payload FROM outbox WHERE key = $1 ORDER BY seq DESC LIMIT 1", str(client_id))
    return payload


async def last_entry(pool: Pool, client_id: UUID) -> dict[str, Any]:
    row = await pool.fetchrow("SELECT * FROM audit_log WHERE client_id = $1 ORDER BY seq DESC "
                              "LIMIT 1", client_id)
    assert row is not None
    return dict(row)


@pytest.mark.parametrize(("action", "fields", "changed", "check"), [
    ("update", {"changes": {"company": "Acme", "phone": "(415) 555-2671", "notes": None}},
     ["phone", "company"], {"company": "Acme", "phone": "+14155552671"}),
    ("set_status", {"status": "BLOCKED"}, ["status"], {"status": "BLOCKED"}),
    ("set_credit_limit", {"credit_limit": "1500.50"}, ["credit_limit"],
     {"credit_limit": "1500.50"}),
    ("tag", {"add": [" VIP ", "net-30"], "remove": ["old"]}, ["tags"],
     {"tags": ["vip", "net-30"]}),
])
async def test_each_command_changes_the_client_with_its_event_version_and_audit_entry(
        pool: Pool, key: stores.IssuedKey, action: str, fields: dict[str, Any],
        changed: list[str], check: dict[str, Any]) -> None:
    client_id = await a_client(pool, key, f"{action}@shop.com", tags=["old"])
    result = await apply(pool, cmd(key, action, client_id, **fields))
    assert (result.outcome, result.version, result.client_ids) == ("applied", 2, [client_id])
    event = await last_event(pool, client_id)
    assert (event["type"], event["client"]["version"]) == ("client.updated", 2)
    assert sorted(event["changed"]) == sorted(changed)
    assert {k: event["client"][k] for k in check} == check
    entry = await last_entry(pool, client_id)
    assert (entry["action"], entry["actor_type"], entry["actor_name"], entry["client_version"],
            entry["command_id"]) == (action, "member", "Ana", 2, result.command_id)
    assert sorted(entry["changes"]) == sorted(changed)


async def test_a_command_id_twice_gives_the_same_result_and_changes_nothing_twice(
        pool: Pool, key: stores.IssuedKey) -> None:
    client_id = await a_client(pool, key, "idem@shop.com")
    once = cmd(key, "tag", client_id, add=["vip"])
    first, again = await apply(pool, once), await apply(pool, once)
    assert first == again
    assert first.version == 2
    assert await pool.fetchval("SELECT version FROM clients WHERE id = $1", client_id) == 2
    assert await pool.fetchval("SELECT count(*) FROM audit_log WHERE client_id = $1",
                               client_id) == 2   # created + this one


async def test_nothing_changed_is_unchanged_without_event_or_entry(
        pool: Pool, key: stores.IssuedKey) -> None:
    client_id = await a_client(pool, key, "same@shop.com", company="Same")
    result = await apply(pool, cmd(key, "update", client_id, changes={"company": "Same"}))
    assert (result.outcome, result.version) == ("unchanged", 1)
    assert (await last_event(pool, client_id))["type"] == "client.created"


async def test_a_stale_expected_version_is_a_conflict(pool: Pool, key: stores.IssuedKey) -> None:
    client_id = await a_client(pool, key, "ver@shop.com")
    await apply(pool, cmd(key, "set_status", client_id, status="BLOCKED"))
    stale = await apply(pool, cmd(key, "set_status", client_id, status="ACTIVE",
                                  expected_version=1))
    assert (stale.outcome, stale.version, stale.errors[0].field) == \
        ("conflict", 2, "expected_version")
    fresh = await apply(pool, cmd(key, "set_status", client_id, status="ACTIVE",
                                  expected_version=2))
    assert (fresh.outcome, fresh.version) == ("applied", 3)


async def test_an_email_held_by_another_live_client_is_a_conflict_naming_it(
        pool: Pool, key: stores.IssuedKey) -> None:
    holder = await a_client(pool, key, "taken@shop.com")
    mover = await a_client(pool, key, "mover@shop.com")
    result = await apply(pool, cmd(key, "update", mover, changes={"email": " TAKEN@shop.com"}))
    assert (result.outcome, result.conflict_client_id) == ("conflict", holder)
    assert await pool.fetchval("SELECT email FROM clients WHERE id = $1", mover) == \
        "mover@shop.com"


@pytest.mark.parametrize(("changes", "field"), [
    ({"email": "not-an-email"}, "email"), ({"phone": "12"}, "phone"),
    ({"name": None}, "name"), ({"email": None, "phone": None}, "email"),
])
async def test_invalid_changes_are_rejected_naming_the_field(
        pool: Pool, key: stores.IssuedKey, changes: dict[str, Any], field: str) -> None:
    client_id = await a_client(pool, key, f"inv{uuid.uuid4().hex[:6]}@shop.com")
    result = await apply(pool, cmd(key, "update", client_id, changes=changes))
    assert (result.outcome, [e.field for e in result.errors]) == ("rejected", [field])


async def test_archive_hides_and_frees_the_email_restore_conflicts_when_taken(
        pool: Pool, key: stores.IssuedKey) -> None:
    client_id = await a_client(pool, key, "arch@shop.com")
    archived = await apply(pool, cmd(key, "archive", client_id))
    assert archived.outcome == "applied"
    assert (await last_event(pool, client_id))["type"] == "client.archived"
    assert (await apply(pool, cmd(key, "archive", client_id))).outcome == "unchanged"
    refused = await apply(pool, cmd(key, "tag", client_id, add=["x"]))
    assert refused.outcome == "conflict"
    again = await a_client(pool, key, "ARCH@shop.com")          # the resolver creates anew
    assert again != client_id
    restore = await apply(pool, cmd(key, "restore", client_id))
    assert (restore.outcome, restore.conflict_client_id) == ("conflict", again)
    await apply(pool, cmd(key, "archive", again))
    restored = await apply(pool, cmd(key, "restore", client_id))
    assert restored.outcome == "applied"
    event = await last_event(pool, client_id)
    assert (event["type"], event["client"]["version"]) == ("client.restored", 3)


async def test_bulk_tag_changes_the_stores_live_clients_and_names_the_rest(
        pool: Pool, key: stores.IssuedKey) -> None:
    ids = [await a_client(pool, key, f"bulk{i}@shop.com") for i in range(5)]
    other = await stores.create_store(pool, "Elsewhere")
    other_key = await stores.create_key(pool, other.id, "x")
    foreign = await a_client(pool, other_key, "foreign@shop.com")
    result = await apply(pool, cmd(key, "bulk_tag", client_ids=[str(i) for i in
                                                                  [*ids, foreign]],
                                   add=["spring"]))
    assert (result.outcome, sorted(result.client_ids)) == ("applied", sorted(ids))
    assert result.errors[0].message.startswith("1 not found")
    assert await pool.fetchval("SELECT tags FROM clients WHERE id = $1", foreign) == []
    tags = await pool.fetch("SELECT tags, version FROM clients WHERE id = ANY($1)", ids)
    assert {(tuple(r["tags"]), r["version"]) for r in tags} == {(("spring",), 2)}


async def test_another_stores_client_is_not_found(pool: Pool, key: stores.IssuedKey) -> None:
    other = await stores.create_store(pool, "Other")
    theirs = await a_client(pool, await stores.create_key(pool, other.id, "k"),
                            "theirs@shop.com")
    result = await apply(pool, cmd(key, "set_status", theirs, status="BLOCKED"))
    assert result.outcome == "not_found"
    assert await pool.fetchval("SELECT status FROM clients WHERE id = $1", theirs) == "ACTIVE"


class Sent:
    """A producer that keeps what is published (the batch's results)."""

    def __init__(self) -> None:
        self.values: list[dict[str, Any]] = []

    async def send(self, topic: str, value: bytes, **_: Any) -> "asyncio.Future[None]":
        self.values.append(json.loads(value))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


def records_of(commands: list[ClientCommand]) -> list[Any]:
    return [SimpleNamespace(topic="clients.commands.v1", partition=0, offset=i,
                            value=c.model_dump_json().encode())
            for i, c in enumerate(commands)]


async def test_a_batch_keeps_each_clients_commands_in_order_while_clients_go_side_by_side(
        pool: Pool, key: stores.IssuedKey) -> None:
    ids = [await a_client(pool, key, f"lane{i}@shop.com") for i in range(6)]
    batch = []
    for client_id in ids:   # on each client: add, remove, add again: order decides the end
        batch += [cmd(key, "tag", client_id, add=["a"]), cmd(key, "tag", client_id, remove=["a"]),
                  cmd(key, "tag", client_id, add=["b"])]
    sent = Sent()
    await commands_batch(pool, sent, records_of(batch), concurrency=4)
    rows = await pool.fetch("SELECT tags, version FROM clients WHERE id = ANY($1)", ids)
    assert {(tuple(r["tags"]), r["version"]) for r in rows} == {(("b",), 4)}
    assert [v["command_id"] for v in sent.values] == [c.command_id for c in batch]
    assert [v["version"] for v in sent.values] == [2, 3, 4] * len(ids)


async def test_one_command_id_twice_in_one_batch_applies_once(
        pool: Pool, key: stores.IssuedKey) -> None:
    first = await a_client(pool, key, "race1@shop.com")
    second = await a_client(pool, key, "race2@shop.com")
    one = cmd(key, "tag", first, add=["x"])
    same_id = cmd(key, "tag", second, add=["x"]).model_copy(
        update={"command_id": one.command_id})
    sent = Sent()
    await commands_batch(pool, sent, records_of([one, same_id]))
    assert sent.values[0] == sent.values[1]   # the one recorded result, answered twice
    tagged = await pool.fetchval("SELECT count(*) FROM clients WHERE id = ANY($1) AND "
                                 "tags = '{x}'", [first, second])
    assert tagged == 1


async def test_the_set_based_batch_answers_and_writes_as_one_at_a_time_does(
        pool: Pool, key: stores.IssuedKey) -> None:
    """The same mixed batch, through each path, on two alike sets of clients."""
    async def run(path: str) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        tag = uuid.uuid4().hex[:6]
        a = await a_client(pool, key, f"a{tag}@paths.example", tags=["old"])
        b = await a_client(pool, key, f"b{tag}@paths.example")
        batch_ = [cmd(key, "set_status", a, status="BLOCKED"),
                  cmd(key, "set_credit_limit", a, credit_limit="12.50", expected_version=2),
                  cmd(key, "update", a, changes={"company": "Acme", "phone": "4155552671"}),
                  cmd(key, "update", a, changes={"name": None}),
                  cmd(key, "tag", a, add=["vip"], remove=["old"]),
                  cmd(key, "set_status", a, status="ACTIVE", expected_version=1),
                  cmd(key, "bulk_tag", client_ids=[str(a), str(b), str(uuid.uuid4())],
                      add=["spring"]),
                  cmd(key, "archive", b), cmd(key, "tag", b, add=["late"]),
                  cmd(key, "set_status", uuid.uuid4(), status="BLOCKED")]
        sent = Sent()
        if path == "set-based":
            await commands_batch(pool, sent, records_of(batch_))
        else:
            for c in batch_:
                sent.values.append((await apply(pool, c)).model_dump(mode="json"))
        answers = [(v["outcome"], v["version"], [e["field"] for e in v["errors"]],
                    len(v["client_ids"])) for v in sent.values]
        rows = await pool.fetch("SELECT status, credit_limit, company, phone, tags, version, "
                                "deleted_at IS NOT NULL FROM clients WHERE id = ANY($1) "
                                "ORDER BY email", [a, b])
        entries = await pool.fetch("SELECT action, client_version, changes FROM audit_log "
                                   "WHERE client_id = ANY($1) ORDER BY seq", [a, b])
        return answers, [tuple(r) for r in rows] + sorted(
            (e["action"], e["client_version"],
             str(sorted(e["changes"]) if e["action"] == "created" else e["changes"]))
            for e in entries)

    assert await run("set-based") == await run("one at a time")


async def test_the_same_command_id_applied_at_the_same_moment_elsewhere_answers_its_result(
        pool: Pool, key: stores.IssuedKey) -> None:
    """Forced interleaving: another process records the command id after this one looked it up
    and before it records its own; this one's changes roll back and it answers that result."""
    client_id = await a_client(pool, key, "elsewhere@shop.com")
    c = cmd(key, "tag", client_id, add=["mine"])
    theirs = CommandResult(command_id=c.command_id, store_id=key.store_id, outcome="applied",
                           client_ids=[client_id], version=9).model_dump(mode="json")
    async with pool.acquire() as other:
        tx = other.transaction()
        await tx.start()
        await other.execute("INSERT INTO client_commands (store_id, command_id, result) "
                            "VALUES ($1, $2, $3)", key.store_id, c.command_id, theirs)
        mine = asyncio.create_task(apply(pool, c))

        async def waiting_on_the_record() -> bool:  # this one is blocked on the other's row
            return bool(await pool.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = current_database() "
                "AND query LIKE '%INSERT INTO client_commands%'"))
        await eventually(waiting_on_the_record)
        await tx.commit()
        result = await mine
    assert result.model_dump(mode="json") == theirs
    assert await pool.fetchval("SELECT tags FROM clients WHERE id = $1", client_id) == []
    assert await pool.fetchval("SELECT count(*) FROM audit_log WHERE client_id = $1",
                               client_id) == 1   # created only


async def test_an_email_taken_by_another_transaction_mid_command_is_a_conflict_naming_it(
        pool: Pool, key: stores.IssuedKey) -> None:
    """Forced interleaving: the address is free when the command asks, and taken (not yet
    committed) when it writes; the write waits, then fails on the index: a conflict naming the
    new holder, the change rolled back, the result recorded."""
    mover = await a_client(pool, key, "mover.race@shop.com")
    c = cmd(key, "update", mover, changes={"email": "wanted@shop.com"})
    taker = uuid.uuid4()
    async with pool.acquire() as other:
        tx = other.transaction()
        await tx.start()
        await other.execute(
            "INSERT INTO clients (id, store_id, name, email, email_key, created_at, "
            "updated_at) VALUES ($1, $2, 'Taker', 'wanted@shop.com', 'wanted@shop.com', "
            "now(), now())", taker, key.store_id)
        mine = asyncio.create_task(apply(pool, c))

        async def waiting_on_the_index() -> bool:
            return bool(await pool.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = current_database() AND query LIKE '%UPDATE clients c%'"))
        await eventually(waiting_on_the_index)
        await tx.commit()
        result = await mine
    assert (result.outcome, result.conflict_client_id) == ("conflict", taker)
    assert await pool.fetchval("SELECT email FROM clients WHERE id = $1", mover) == \
        "mover.race@shop.com"
    assert (await apply(pool, c)) == result   # recorded: the same answer again

"""Versions, `changed` and the audit log of resolver writes (the foundation of the "operate on
clients" issue, invariant 12): every change is one version and one audit entry, in the
transaction that makes it; the audit log is append-only in the database; matches add tags."""

import uuid
from typing import Any
from uuid import UUID

import asyncpg
import pytest

from shared import stores
from shared.db import Pool
from shared.resolver import resolve_batch
from tests.support.factories import command


@pytest.fixture
def pool(private_pool: Pool) -> Pool:
    return private_pool



async def events_of(pool: Pool, client_id: UUID) -> list[dict[str, Any]]:
    rows = await pool.fetch("SELECT payload FROM outbox WHERE key = $1 ORDER BY seq",
                            str(client_id))
    return [r["payload"] for r in rows]


async def audit_of(pool: Pool, client_id: UUID) -> list[dict[str, Any]]:
    rows = await pool.fetch("SELECT * FROM audit_log WHERE client_id = $1 ORDER BY seq",
                            client_id)
    return [dict(r) for r in rows]


async def test_each_change_is_a_version_an_event_naming_its_fields_and_an_audit_entry(
        pool: Pool, key: stores.IssuedKey) -> None:
    first = command(key, request_id="r-1", email="ver@shop.com", tags=["vip"])
    (created,) = await resolve_batch(pool, [first])
    client_id = created.client_id
    assert client_id is not None
    await resolve_batch(pool, [command(key, request_id="r-2", email="VER@shop.com",
                                       company="Acme", tags=["net-30", "vip"])])
    await resolve_batch(pool, [command(key, request_id="r-3", email="ver@shop.com")])  # no-op

    events = await events_of(pool, client_id)
    assert [(e["type"], e["client"]["version"], e["changed"]) for e in events] == [
        ("client.created", 1, []), ("client.updated", 2, ["company", "tags"])]
    assert events[1]["client"]["tags"] == ["vip", "net-30"]     # union, nothing removed

    entries = await audit_of(pool, client_id)
    assert [(e["action"], e["client_version"], e["command_id"]) for e in entries] == [
        ("created", 1, "r-1"), ("updated", 2, "r-2")]
    assert all((e["actor_type"], e["actor_id"], e["actor_name"]) ==
               ("integration_key", key.id, "WooCommerce") for e in entries)
    assert entries[0]["changes"]["email"] == [None, "ver@shop.com"]
    assert entries[1]["changes"] == {"company": [None, "Acme"],
                                     "tags": [["vip"], ["vip", "net-30"]]}
    version = await pool.fetchval("SELECT version FROM clients WHERE id = $1", client_id)
    assert version == 2


async def test_two_changes_in_one_batch_are_two_versions_and_two_entries(
        pool: Pool, key: stores.IssuedKey) -> None:
    (created,) = await resolve_batch(pool, [command(key, email="two@shop.com")])
    await resolve_batch(pool, [command(key, request_id="a", email="two@shop.com", company="A"),
                               command(key, request_id="b", email="two@shop.com",
                                       phone="(415) 555-2671")])
    assert created.client_id is not None
    entries = await audit_of(pool, created.client_id)
    assert [(e["command_id"], e["client_version"], list(e["changes"])) for e in entries[1:]] \
        == [("a", 2, ["company"]), ("b", 3, ["phone"])]
    (_, updated) = await events_of(pool, created.client_id)
    assert (updated["client"]["version"], updated["changed"]) == (3, ["company", "phone"])


async def test_the_audit_log_refuses_updates_deletes_and_truncation(
        pool: Pool, key: stores.IssuedKey) -> None:
    (created,) = await resolve_batch(pool, [command(key, email="locked@shop.com")])
    for statement in ("UPDATE audit_log SET action = 'forged' WHERE client_id = $1",
                      "DELETE FROM audit_log WHERE client_id = $1"):
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await pool.execute(statement, created.client_id)
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
        await pool.execute("TRUNCATE audit_log")
    assert created.client_id is not None
    assert [e["action"] for e in await audit_of(pool, created.client_id)] == ["created"]


async def test_an_import_update_adds_tags_and_is_audited_as_the_import(
        pool: Pool, key: stores.IssuedKey) -> None:
    (created,) = await resolve_batch(pool, [command(key, email="imp@shop.com", tags=["a"])])
    job = uuid.uuid4()
    row = command(key, request_id=f"import:{job}:2", email="imp@shop.com", tags=["b"],
                  company="Imported").model_copy(update={
                      "integration_key_id": None, "import_job_id": job, "on_match": "update",
                      "source_label": "import:clients.csv"})
    await resolve_batch(pool, [row])
    assert created.client_id is not None
    entries = await audit_of(pool, created.client_id)
    assert (entries[-1]["actor_type"], entries[-1]["actor_id"], entries[-1]["actor_name"]) == \
        ("import", job, "import:clients.csv")
    assert entries[-1]["changes"]["tags"] == [["a"], ["a", "b"]]

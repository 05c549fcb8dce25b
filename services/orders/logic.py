"""One batch of `orders.events.v1` -> orders, their events, addresses and the clients' stats.

An `order.placed` names its customer, who goes through the one resolver (source label
`checkout` unless given; matched or created like any upsert, the touch's request id
`order:<order id>`); later events name the order only. Each event is recorded once, keyed by
(store, order, type, occurred_at): a replay finds its row and changes nothing. The order's state
moves only forward (paid and cancelled are stamped once, a refund only raises what was refunded),
and the stats are not counted up but computed again from the client's orders: so however often
or in whatever grouping the topic is replayed, the stats come out the same, and a client whose
stats did not move gets no new version, no audit entry and no event.

Stats, VIP and segment change together in one transaction with their audit entry (actor
`system` "orders") and `client.updated` naming what changed. An address an order brings is
saved unless an equal one is there (the first of its type becomes the default). An attestation
captured with the order is handed to `clients.attestations.v1`. What cannot be used (not an
order event, an unknown store, key or order, a customer the resolver refuses) is a dead letter
with its reason on `orders.events.dlq.v1`.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeAlias
from uuid import UUID

import asyncpg
from aiokafka import AIOKafkaProducer, ConsumerRecord
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_random

from schemas.ingest import ClientFields
from schemas.orders import OrderEvent
from schemas.privacy import AttestationCapture
from services.orders import sql
from shared import addresses, audit, stats
from shared.audit import Actor, AuditEntry
from shared.customers import Customer, resolve_customers
from shared.db import Connection, Pool
from shared.dead_letters import Intake, Rejected
from shared.outbox import add_events, client_event
from shared.publish import publish_keyed
from shared.stats import Rules
from shared.topics import ATTESTATIONS, ORDERS_DLQ

Record: TypeAlias = "ConsumerRecord[bytes, bytes]"
STATS = stats.COLUMNS
ACTOR = Actor("system", None, "orders")


class MergedMeanwhile(Exception):
    """A client of the batch was merged into another after the batch looked: run it again."""


RETRYABLE = (asyncpg.DeadlockDetectedError, asyncpg.SerializationError, MergedMeanwhile)


@dataclass
class Item:
    record: Record
    body: Any
    event: OrderEvent
    client_id: UUID | None = None


async def orders_batch(pool: Pool, producer: AIOKafkaProducer, records: Sequence[Record],
                       rules: Rules) -> int:
    """Applies the batch; returns how many events were new."""
    intake = Intake(OrderEvent, "order event")
    items = [Item(r, body, e) for r, body, e in intake.decode(records)]
    for item, error in await _find_clients(pool, items):
        intake.refuse(item.record, item.body, error.reason, error.errors)
    ready = [i for i in items if i.client_id is not None]
    new = 0
    if ready:
        new = await _apply_retrying(pool, ready, rules)
    await publish_keyed(producer, ATTESTATIONS, [
        (f"{i.event.store_id}:order:{i.event.order_id}", _attestation(i)) for i in ready
        if i.event.attestation is not None])
    await publish_keyed(producer, ORDERS_DLQ, intake.letters())
    return new


async def _find_clients(pool: Pool, items: list[Item]) -> list[tuple[Item, Rejected]]:
    """Sets each item's client: a placed order's through the resolver, a later event's from
    its order (placed earlier, or in this batch). The items that have none, and why."""
    refused: list[tuple[Item, Rejected]] = []
    placed = [i for i in items if i.event.type == "order.placed"]
    answers = await resolve_customers(pool, [Customer(
        store_id=i.event.store_id, fields=_customer(i.event),
        request_id=f"order:{i.event.order_id}",
        source_label=i.event.source_label, received_at=i.event.occurred_at,
        integration_key_id=i.event.integration_key_id) for i in placed])
    for i, answer in zip(placed, answers, strict=True):
        if isinstance(answer, Rejected):
            refused.append((i, answer))
        else:
            i.client_id = answer

    in_batch = {(i.event.store_id, i.event.order_id): i.client_id for i in placed
                if i.client_id is not None}
    later = [i for i in items if i.event.type != "order.placed"]
    known = {(r["store_id"], r["order_id"]): r["client_id"] for r in await pool.fetch(
        sql.KNOWN, [i.event.store_id for i in later], [i.event.order_id for i in later])
             } if later else {}
    for i in later:
        key = (i.event.store_id, i.event.order_id)
        i.client_id = known.get(key) or in_batch.get(key)
        if i.client_id is None:
            refused.append((i, Rejected("invalid", "order_id",
                                        "no such order in this store (order.placed first)")))
    return refused


def _customer(e: OrderEvent) -> ClientFields:
    """A placed order's customer, with the order's marketing consent when it gives one."""
    assert e.customer is not None  # OrderEvent requires it of order.placed
    if e.accepts_marketing is None:
        return e.customer
    return e.customer.model_copy(update={"accepts_marketing": e.accepts_marketing})


async def _apply_retrying(pool: Pool, items: list[Item], rules: Rules) -> int:
    """One transaction; a deadlock or serialization failure (with a concurrent upsert), or a
    merge of one of its clients, rolls it back and it runs again."""
    retrying = AsyncRetrying(retry=retry_if_exception_type(RETRYABLE), reraise=True,
                             stop=stop_after_attempt(5), wait=wait_random(0.005, 0.05))
    async for attempt in retrying:
        with attempt:
            async with pool.acquire() as conn, conn.transaction():
                return await _apply(conn, items, rules)
    raise AssertionError("unreachable")  # AsyncRetrying(reraise=True) raises on the last try


async def _apply(conn: Connection, items: list[Item], rules: Rules) -> int:
    """Inserts first (the events, the placed orders), then the clients are locked, then what
    reads or changes rows that are there already (orders, addresses, the stats). The lock is
    what makes a batch's stats see every order committed before it; held from the first
    statement it kept the other worker's batches of the same customers waiting for the inserts
    too (63 of 143 active backends sampled in a two-worker bench.orders run waited on it)."""
    now = rules.now()
    await _follow_merges(conn, items)
    events = [i.event for i in items]
    recorded = await conn.fetch(
        sql.RECORD_EVENTS, [e.store_id for e in events], [e.order_id for e in events],
        [e.type for e in events], [e.occurred_at for e in events],
        [i.client_id for i in items],
        [e.total_minor if e.type == "order.placed" else e.refunded_minor for e in events],
        [e.currency for e in events])
    fresh = {(r["store_id"], r["order_id"], r["type"], r["occurred_at"]) for r in recorded}
    new = [i for i in items if (i.event.store_id, i.event.order_id, i.event.type,
                                i.event.occurred_at) in fresh]
    if not new:
        return 0
    placed = [i for i in new if i.event.type == "order.placed"]
    if placed:
        await conn.execute(sql.APPLY, *_order_columns(placed), now)
    await _lock_clients(conn, new)
    changes = [i for i in new if i.event.type != "order.placed"]
    if changes:
        await conn.execute(
            sql.UPDATE_ORDERS, [i.event.store_id for i in changes],
            [i.event.order_id for i in changes],
            [i.event.occurred_at if i.event.type == "order.paid" else None for i in changes],
            [i.event.occurred_at if i.event.type == "order.cancelled" else None
             for i in changes],
            [i.event.refunded_minor for i in changes], now)
    await _save_addresses(conn, placed, now)
    await _restat(conn, list({i.client_id for i in new if i.client_id}), rules, now,
                  command_id="orders:" + ",".join(sorted({i.event.order_id for i in new}))[:120])
    return len(new)


async def _follow_merges(conn: Connection, items: list[Item]) -> None:
    """A client merged into another since it was resolved (or since its order was placed)
    hands its items to that one: a merge moves orders, and what comes after it follows them."""
    merged = {r["id"]: r["merged_into"] for r in await conn.fetch(
        sql.MERGED, sorted({i.client_id for i in items if i.client_id}))}
    for i in items:
        if i.client_id in merged:
            i.client_id = merged[i.client_id]


async def _lock_clients(conn: Connection, items: list[Item]) -> None:
    """Locks the items' clients, in id order. A merge locks both sides FOR UPDATE: one that
    committed after _follow_merges looked (this batch's inserts waited for it on the clients'
    keys) shows here, and the batch runs again; one that comes later waits for this batch,
    then moves its orders."""
    rows = await conn.fetch(sql.LOCK_CLIENTS, sorted({i.client_id for i in items if i.client_id}))
    if any(r["merged_into"] is not None for r in rows):
        raise MergedMeanwhile("a client of the batch was merged meanwhile")


async def _restat(conn: Connection, client_ids: list[UUID], rules: Rules, now: datetime,
                  command_id: str | None) -> None:
    """The clients' stats from their orders; the changed ones written with an audit entry and
    client.updated each."""
    entries, events = [], []
    for row in await stats.restat(conn, client_ids, rules, now):
        after = dict(row)
        diff = {k: [after["old_" + k], after[k]] for k in STATS
                if after["old_" + k] != after[k]}
        entries.append(AuditEntry(store_id=after["store_id"], client_id=after["id"],
                                  client_version=after["version"], at=now, actor=ACTOR,
                                  action="order_stats", changes=diff, command_id=command_id))
        events.append(client_event("client.updated", after, now, list(diff)))
    await audit.record(conn, entries)
    await add_events(conn, events)


async def _save_addresses(conn: Connection, placed: list[Item], now: datetime) -> None:
    await addresses.save(conn, [
        (i.event.store_id, i.client_id, kind, address) for i in placed if i.client_id
        for kind, address in (("billing", i.event.billing_address),
                              ("shipping", i.event.shipping_address)) if address is not None],
        "order", now)


def _order_columns(placed: list[Item]) -> list[list[Any]]:
    e = [i.event for i in placed]
    return [[x.store_id for x in e], [x.order_id for x in e], [i.client_id for i in placed],
            [x.currency for x in e], [x.total_minor for x in e], [0] * len(e),
            [x.occurred_at for x in e], [None] * len(e), [None] * len(e), [True] * len(e)]


def _attestation(i: Item) -> AttestationCapture:
    a, e = i.event.attestation, i.event
    assert a is not None
    return AttestationCapture(
        capture_id=f"order:{e.order_id}", store_id=e.store_id, client_id=i.client_id,
        source_label=e.source_label, text=a.text, version=a.version,
        captured_at=a.captured_at or e.occurred_at, ip=a.ip, user_agent=a.user_agent)

"""One batch of `clients.attestations.v1` -> attestations recorded, dead letters for the rest.

A capture names its client by id (it must be of the capture's store and not erased), or by
`customer` (email / phone / external id, with a name), which goes through the one resolver as an
upsert from `integration_key_id` (which must be of the store) under the capture's source label:
matched, or created. Its touch's request id is `attestation:<capture id>`, so a redelivered
capture resolves to the same client and records nothing twice (the capture id is unique per
store). Anything else on the topic ends as a dead letter with its reason on
`clients.attestations.dlq.v1`, tokens redacted.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias
from uuid import UUID

from aiokafka import AIOKafkaProducer, ConsumerRecord

from schemas.privacy import AttestationCapture
from services.attestations import sql
from shared.customers import Customer, resolve_customers
from shared.db import Pool
from shared.dead_letters import Intake, Rejected, received_at
from shared.notify import ATTESTATIONS_RECORDED, notify
from shared.publish import publish_keyed
from shared.topics import ATTESTATIONS_DLQ

Record: TypeAlias = "ConsumerRecord[bytes, bytes]"


@dataclass
class Capture:
    record: Record
    body: Any
    capture: AttestationCapture
    client_id: UUID | None = None


async def attestations_batch(pool: Pool, producer: AIOKafkaProducer,
                             records: Sequence[Record]) -> int:
    """Records the batch's valid captures; returns how many were new."""
    intake = Intake(AttestationCapture, "capture", request_id_field="capture_id")
    captures = [Capture(r, body, c) for r, body, c in intake.decode(records)]
    for c, error in await _find_clients(pool, captures):
        intake.refuse(c.record, c.body, error.reason, error.errors)
    found = [c for c in captures if c.client_id is not None]
    status = "INSERT 0 0"
    if found:
        async with pool.acquire() as conn, conn.transaction():
            status = await conn.execute(sql.INSERT, *_columns(found))
            await notify(conn, ATTESTATIONS_RECORDED)  # the edge's waiting requests look again
    await publish_keyed(producer, ATTESTATIONS_DLQ, intake.letters())
    return int(status.rsplit(" ", 1)[-1])


async def _find_clients(pool: Pool, captures: list[Capture]
                        ) -> list[tuple[Capture, Rejected]]:
    """Sets each capture's client id; the captures that have none, and why."""
    refused: list[tuple[Capture, Rejected]] = []
    by_id = [c for c in captures if c.capture.client_id is not None]
    clients = {r["id"]: r for r in await pool.fetch(
        sql.CLIENTS, [c.capture.client_id for c in by_id])} if by_id else {}
    for c in by_id:
        row = clients.get(c.capture.client_id)
        if row is None or row["store_id"] != c.capture.store_id:
            refused.append((c, Rejected("invalid", "client_id",
                                        "no such client in this store")))
        elif row["erased_at"] is not None:
            refused.append((c, Rejected("invalid", "client_id", "the client was erased")))
        else:
            c.client_id = c.capture.client_id

    by_customer = [c for c in captures if c.capture.customer is not None]
    answers = await resolve_customers(pool, [Customer(
        store_id=c.capture.store_id, fields=c.capture.customer,
        request_id=f"attestation:{c.capture.capture_id}", source_label=c.capture.source_label,
        received_at=received_at(c.record), integration_key_id=c.capture.integration_key_id)
        for c in by_customer if c.capture.customer is not None])
    for c, answer in zip(by_customer, answers, strict=True):
        if isinstance(answer, Rejected):
            refused.append((c, answer))
        else:
            c.client_id = answer
    return refused


def _columns(found: list[Capture]) -> list[list[Any]]:
    caps = [c.capture for c in found]
    return [[c.store_id for c in caps], [f.client_id for f in found],
            [c.capture_id for c in caps], [c.text for c in caps], [c.version for c in caps],
            [c.captured_at for c in caps], [c.ip for c in caps], [c.user_agent for c in caps],
            [c.source_label for c in caps], [c.actor_name for c in caps]]

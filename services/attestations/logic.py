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
from datetime import UTC, datetime
from typing import Any, TypeAlias
from uuid import UUID

import structlog
from aiokafka import AIOKafkaProducer, ConsumerRecord
from pydantic import ValidationError

from schemas.common import FieldError
from schemas.dlq import DeadLetter, Reason
from schemas.privacy import AttestationCapture
from services.attestations import sql
from shared.db import Pool
from shared.dead_letters import Unreadable, carried, dead_letter, decode_json
from shared.normalize import InvalidRecordError, field_errors, to_command
from shared.publish import publish_keyed
from shared.resolver import resolve_batch
from shared.topics import ATTESTATIONS_DLQ

log = structlog.get_logger(__name__)
Record: TypeAlias = "ConsumerRecord[bytes, bytes]"


@dataclass
class Capture:
    record: Record
    body: Any
    capture: AttestationCapture
    client_id: UUID | None = None


class Refused(Exception):
    def __init__(self, reason: Reason, field: str, message: str) -> None:
        super().__init__(message)
        self.reason, self.errors = reason, [FieldError(field=field, message=message)]


async def attestations_batch(pool: Pool, producer: AIOKafkaProducer,
                             records: Sequence[Record]) -> int:
    """Records the batch's valid captures; returns how many were new."""
    captures: list[Capture] = []
    dead: list[DeadLetter] = []

    def refuse(record: Record, body: Any, reason: Reason, errors: list[FieldError]) -> None:
        where = f"{record.topic}:{record.partition}:{record.offset}"
        given = body.get("capture_id") if isinstance(body, dict) else None
        request_id = given if isinstance(given, str) and 0 < len(given) <= 128 else where
        dead.append(dead_letter(record, body, request_id, reason, errors, _at(record)))
        log.info("capture rejected", at=where, reason=reason,
                 errors=[e.model_dump() for e in errors[:5]])

    for record in records:
        body = decode_json(record.value)
        try:
            if isinstance(body, Unreadable):
                raise Refused("malformed", "payload", body.why)
            captures.append(Capture(record, body, AttestationCapture.model_validate(body)))
        except Refused as e:
            refuse(record, body, e.reason, e.errors)
        except ValidationError as e:
            refuse(record, body, "invalid", field_errors(e))
        except Exception as e:  # input we did not foresee is still only input
            refuse(record, body, "malformed", [FieldError(
                field="payload", message=f"could not be processed ({type(e).__name__})")])

    for c, error in await _find_clients(pool, captures):
        refuse(c.record, c.body, error.reason, error.errors)
    found = [c for c in captures if c.client_id is not None]
    status = await pool.execute(sql.INSERT, *_columns(found)) if found else "INSERT 0 0"
    await publish_keyed(producer, ATTESTATIONS_DLQ,
                        [(d.request_id, carried(d)) for d in dead])
    return int(status.rsplit(" ", 1)[-1])


async def _find_clients(pool: Pool, captures: list[Capture]
                        ) -> list[tuple[Capture, Refused]]:
    """Sets each capture's client id; the captures that have none, and why."""
    refused: list[tuple[Capture, Refused]] = []
    by_id = [c for c in captures if c.capture.client_id is not None]
    clients = {r["id"]: r for r in await pool.fetch(
        sql.CLIENTS, [c.capture.client_id for c in by_id])} if by_id else {}
    for c in by_id:
        row = clients.get(c.capture.client_id)
        if row is None or row["store_id"] != c.capture.store_id:
            refused.append((c, Refused("invalid", "client_id", "no such client in this store")))
        elif row["erased_at"] is not None:
            refused.append((c, Refused("invalid", "client_id", "the client was erased")))
        else:
            c.client_id = c.capture.client_id

    by_customer = [c for c in captures if c.capture.customer is not None]
    if not by_customer:
        return refused
    regions = {r["id"]: r["region"] for r in await pool.fetch(
        sql.STORES, list({c.capture.store_id for c in by_customer}))}
    keys = {r["id"]: r["store_id"] for r in await pool.fetch(
        sql.KEYS, [c.capture.integration_key_id for c in by_customer
                   if c.capture.integration_key_id])}
    commands, resolving = [], []
    for c in by_customer:
        cap = c.capture
        assert cap.customer is not None
        if cap.store_id not in regions:
            refused.append((c, Refused("invalid", "store_id", "no such store")))
            continue
        if cap.integration_key_id and keys.get(cap.integration_key_id) != cap.store_id:
            refused.append((c, Refused("invalid", "integration_key_id",
                                       "not a key of this store")))
            continue
        try:
            commands.append(to_command(
                cap.customer, request_id=f"attestation:{cap.capture_id}",
                store_id=cap.store_id, region=regions[cap.store_id],
                integration_key_id=cap.integration_key_id, source_label=cap.source_label,
                received_at=_at(c.record)))
            resolving.append(c)
        except InvalidRecordError as e:
            refused.append((c, Refused("invalid", "customer", "; ".join(
                f"{x.field}: {x.message}" for x in e.errors))))
    for c, result in zip(resolving, await resolve_batch(pool, commands), strict=True):
        if result.client_id is None:
            refused.append((c, Refused("invalid", "customer", "; ".join(
                f"{x.field}: {x.message}" for x in result.errors) or result.outcome)))
        else:
            c.client_id = result.client_id
    return refused


def _columns(found: list[Capture]) -> list[list[Any]]:
    caps = [c.capture for c in found]
    return [[c.store_id for c in caps], [f.client_id for f in found],
            [c.capture_id for c in caps], [c.text for c in caps], [c.version for c in caps],
            [c.captured_at for c in caps], [c.ip for c in caps], [c.user_agent for c in caps],
            [c.source_label for c in caps], [c.actor_name for c in caps]]


def _at(record: Record) -> datetime:
    """When the broker took the record: the same on every redelivery."""
    return datetime.fromtimestamp(record.timestamp / 1000, UTC)

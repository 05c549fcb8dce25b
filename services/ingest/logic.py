"""One batch of `clients.ingest.v1` records -> upsert commands, dead letters, rejected results.

Order of checks: malformed (not a JSON object we can read) -> unauthorized (missing, unknown or
revoked key; nothing about the record is trusted before this) -> invalid (fields, store, email,
phone). Whatever a producer puts on the topic ends here as a command or a dead letter with its
reason: nothing a record holds can raise out of the batch (invariant 10).

A batch is published again if it is redelivered (an outage after part of it was published). Its
outputs are then the same messages under the same keys, byte for byte: every timestamp comes from
the record (the topic stamps LogAppendTime), so downstream deduplication by request id holds.

Tokens never travel: dead letters carry the payload with every `pck_…` token redacted, wherever
it stands, and nothing logs one.
"""

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from aiokafka import AIOKafkaProducer, ConsumerRecord
from pydantic import ValidationError

from schemas.common import FieldError, clean_text
from schemas.dlq import DeadLetter
from schemas.ingest import IngestRecord
from schemas.upsert import UpsertCommand, UpsertResult
from services.ingest.errors import RejectedError
from shared.db import Pool
from shared.dead_letters import Unreadable, carried, dead_letter, decode_json, received_at
from shared.normalize import InvalidRecordError, field_errors, to_command
from shared.publish import publish_keyed
from shared.redact import redact_text
from shared.stores import KeyIdentity, authenticate_many
from shared.topics import INGEST_DLQ, UPSERT, UPSERT_RESULTS

log = structlog.get_logger(__name__)

MAX_REQUEST_ID = 128


@dataclass(frozen=True)
class BatchSummary:
    accepted: int
    rejected: int


async def ingest_batch(pool: Pool, producer: AIOKafkaProducer,
                       records: Sequence["ConsumerRecord[bytes, bytes]"]) -> BatchSummary:
    bodies = [decode_json(r.value) for r in records]
    tokens = {b["integration_key"] for b in bodies
              if isinstance(b, dict) and isinstance(b.get("integration_key"), str)}
    identities = await authenticate_many(pool, tokens)

    commands: list[UpsertCommand] = []
    dead: list[tuple[DeadLetter, KeyIdentity | None]] = []
    for record, body in zip(records, bodies, strict=True):
        at = received_at(record)
        request_id = _request_id(record, body)
        token = body.get("integration_key") if isinstance(body, dict) else None
        identity = identities.get(token) if isinstance(token, str) else None
        try:
            commands.append(_to_command(body, identity, request_id, at))
            continue
        except RejectedError as e:
            error = e
        except Exception as e:  # input we did not foresee is still only input
            error = RejectedError("malformed", [FieldError(
                field="payload", message=f"could not be processed ({type(e).__name__})")])
        letter = dead_letter(record, body, request_id, error.reason, error.errors, at)
        dead.append((letter, identity))
        log.info("record rejected", request_id=request_id, reason=letter.reason,
                 errors=[x.model_dump() for x in letter.errors[:5]], topic=record.topic,
                 partition=record.partition, offset=record.offset)

    await asyncio.gather(
        publish_keyed(producer, UPSERT, [(_partition_key(c), c) for c in commands]),
        publish_keyed(producer, INGEST_DLQ, [(d.request_id, carried(d)) for d, _ in dead]),
        publish_keyed(producer, UPSERT_RESULTS, [(d.request_id, _rejected(d, i)) for d, i in dead]),
    )
    return BatchSummary(accepted=len(commands), rejected=len(dead))


def _request_id(record: "ConsumerRecord[bytes, bytes]", body: Any) -> str:
    given = body.get("request_id") if isinstance(body, dict) else None
    if isinstance(given, str) and 0 < len(given.strip()) <= MAX_REQUEST_ID:
        try:
            return redact_text(clean_text(given.strip()))
        except ValueError:
            pass  # a request id no key or row can hold: the record's own position instead
    return f"{record.topic}:{record.partition}:{record.offset}"


def _to_command(body: Any, identity: KeyIdentity | None, request_id: str,
                at: datetime) -> UpsertCommand:
    if isinstance(body, Unreadable):
        raise RejectedError("malformed", [FieldError(field="payload", message=body.why)])
    if not isinstance(body, dict):
        raise RejectedError("malformed", [FieldError(field="payload",
                                                     message="not a JSON object")])
    token = body.get("integration_key")
    if not isinstance(token, str) or not token:
        raise RejectedError("unauthorized", [FieldError(field="integration_key",
                                                        message="missing")])
    if identity is None:
        raise RejectedError("unauthorized", [FieldError(field="integration_key",
                                                        message="unknown or revoked key")])
    try:
        record = IngestRecord.model_validate(body)
        return to_command(record, request_id=request_id, store_id=identity.store_id,
                          region=identity.region, integration_key_id=identity.key_id,
                          source_label=identity.label, received_at=at)
    except ValidationError as e:
        raise RejectedError("invalid", field_errors(e)) from None
    except InvalidRecordError as e:
        raise RejectedError("invalid", e.errors) from None


def _partition_key(c: UpsertCommand) -> str:
    # The same person lands on the same partition; the database decides races anyway.
    return f"{c.store_id}/{c.email_key or c.external_id or c.request_id}"


def _rejected(dead: DeadLetter, identity: KeyIdentity | None) -> UpsertResult:
    return UpsertResult(request_id=dead.request_id,
                        store_id=identity.store_id if identity else None, client_id=None,
                        outcome="rejected", duplicate=False, errors=dead.errors)

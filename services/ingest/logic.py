"""One batch of `clients.ingest.v1` records -> upsert commands, dead letters, rejected results.

Order of checks: malformed (not a JSON object) -> unauthorized (missing, unknown or revoked key;
nothing about the record is trusted before this) -> invalid (fields, store, email, phone).
The integration key is never logged, stored or forwarded: dead letters carry it redacted.
"""

import asyncio
import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from aiokafka import AIOKafkaProducer, ConsumerRecord
from pydantic import ValidationError

from schemas.common import FieldError
from schemas.dlq import DeadLetter, Source
from schemas.ingest import IngestRecord
from schemas.upsert import UpsertCommand, UpsertResult
from services.ingest.errors import RejectedError
from shared.db import Pool
from shared.normalize import InvalidRecordError, field_errors, to_command
from shared.publish import publish_keyed
from shared.stores import KeyIdentity, authenticate_many
from shared.topics import INGEST_DLQ, UPSERT, UPSERT_RESULTS

log = structlog.get_logger(__name__)

REDACTED = "[redacted]"
MAX_REQUEST_ID = 128
# A dead letter carries at most this much of the original: a record near Kafka's message size
# limit would otherwise make a letter over it, which could never be published.
MAX_LETTER_PAYLOAD = 256 * 1024


@dataclass(frozen=True)
class BatchSummary:
    accepted: int
    rejected: int


async def ingest_batch(pool: Pool, producer: AIOKafkaProducer,
                       records: Sequence["ConsumerRecord[bytes, bytes]"]) -> BatchSummary:
    now = datetime.now(UTC)
    bodies = [_decode(r.value) for r in records]
    tokens = {b["integration_key"] for b in bodies
              if isinstance(b, dict) and isinstance(b.get("integration_key"), str)}
    identities = await authenticate_many(pool, tokens)

    commands: list[UpsertCommand] = []
    dead: list[tuple[DeadLetter, KeyIdentity | None]] = []
    for record, body in zip(records, bodies, strict=True):
        request_id = _request_id(record, body)
        token = body.get("integration_key") if isinstance(body, dict) else None
        identity = identities.get(token) if isinstance(token, str) else None
        try:
            commands.append(_to_command(body, identity, request_id, now))
        except RejectedError as e:
            dead.append((_dead_letter(record, body, request_id, e, now), identity))
            log.info("record rejected", request_id=request_id, reason=e.reason,
                     errors=[x.model_dump() for x in e.errors], topic=record.topic,
                     partition=record.partition, offset=record.offset)

    await asyncio.gather(
        publish_keyed(producer, UPSERT, [(_partition_key(c), c) for c in commands]),
        publish_keyed(producer, INGEST_DLQ, [(d.request_id, d) for d, _ in dead]),
        publish_keyed(producer, UPSERT_RESULTS, [(d.request_id, _rejected(d, i)) for d, i in dead]),
    )
    return BatchSummary(accepted=len(commands), rejected=len(dead))


def _decode(raw: bytes | None) -> Any:
    """The JSON value, or the raw bytes when they are not JSON."""
    if raw is None:
        return b""
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return raw


def _request_id(record: "ConsumerRecord[bytes, bytes]", body: Any) -> str:
    given = body.get("request_id") if isinstance(body, dict) else None
    if isinstance(given, str) and given.strip() and len(given.strip()) <= MAX_REQUEST_ID:
        return given.strip()
    return f"{record.topic}:{record.partition}:{record.offset}"


def _to_command(body: Any, identity: KeyIdentity | None, request_id: str,
                now: datetime) -> UpsertCommand:
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
                          source_label=identity.label, received_at=now)
    except ValidationError as e:
        raise RejectedError("invalid", field_errors(e)) from None
    except InvalidRecordError as e:
        raise RejectedError("invalid", e.errors) from None


def _partition_key(c: UpsertCommand) -> str:
    # The same person lands on the same partition; the database decides races anyway.
    return f"{c.store_id}/{c.email_key or c.external_id or c.request_id}"


def _dead_letter(record: "ConsumerRecord[bytes, bytes]", body: Any, request_id: str,
                 error: RejectedError, now: datetime) -> DeadLetter:
    if isinstance(body, bytes):
        payload: Any = base64.b64encode(body).decode("ascii")
    elif isinstance(body, dict) and "integration_key" in body:
        payload = {**body, "integration_key": REDACTED}
    else:
        payload = body
    if len(record.value or b"") > MAX_LETTER_PAYLOAD:
        raw = json.dumps(payload).encode() if not isinstance(body, bytes) else body
        payload = {"truncated": True, "size": len(record.value or b""),
                   "head_base64": base64.b64encode(raw[:MAX_LETTER_PAYLOAD]).decode("ascii")}
    return DeadLetter(request_id=request_id, reason=error.reason, errors=error.errors,
                      payload=payload, rejected_at=now,
                      source=Source(topic=record.topic, partition=record.partition,
                                    offset=record.offset))


def _rejected(dead: DeadLetter, identity: KeyIdentity | None) -> UpsertResult:
    return UpsertResult(request_id=dead.request_id,
                        store_id=identity.store_id if identity else None, client_id=None,
                        outcome="rejected", duplicate=False, errors=dead.errors)

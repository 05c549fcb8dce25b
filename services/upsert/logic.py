"""One batch of `clients.upsert.v1` commands -> one resolver transaction -> results."""

from collections.abc import Sequence

import structlog
from aiokafka import AIOKafkaProducer, ConsumerRecord
from pydantic import ValidationError

from schemas.upsert import UpsertCommand, UpsertResult
from shared.db import Pool
from shared.normalize import field_errors
from shared.publish import publish_keyed
from shared.resolver import resolve_batch
from shared.topics import UPSERT_RESULTS

log = structlog.get_logger(__name__)


async def upsert_batch(pool: Pool, producer: AIOKafkaProducer,
                       records: Sequence["ConsumerRecord[bytes, bytes]"]) -> list[UpsertResult]:
    commands: list[UpsertCommand] = []
    refused: list[UpsertResult] = []
    for record in records:
        try:
            commands.append(UpsertCommand.model_validate_json(record.value or b""))
        except ValidationError as e:
            # Only our own ingest and importers write this topic: this is a bug, not input.
            request_id = f"{record.topic}:{record.partition}:{record.offset}"
            log.error("unreadable upsert command", request_id=request_id, error=str(e))
            refused.append(UpsertResult(request_id=request_id, store_id=None, client_id=None,
                                        outcome="rejected", duplicate=False,
                                        errors=field_errors(e)))
    results = await resolve_batch(pool, commands)  # durable before anything is announced
    await publish_keyed(producer, UPSERT_RESULTS, [(r.request_id, r) for r in results + refused])
    return results

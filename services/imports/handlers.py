"""Thin Kafka handlers: take the raw batch, bind log context, call the logic."""

import structlog
from faststream.kafka import KafkaRouter
from pydantic import ValidationError

from schemas.imports import ImportChunk
from services.imports.logic import process_chunk
from shared.broker import Records, raw_batch_subscriber
from shared.resources import Deps
from shared.topics import IMPORT_CHUNKS

GROUP = "imports"
log = structlog.get_logger(__name__)


def router(deps: Deps) -> KafkaRouter:
    r = KafkaRouter()

    # Chunks of one bucket arrive in order on one partition; partitions run in parallel.
    @raw_batch_subscriber(r, IMPORT_CHUNKS, group=deps.settings.group_prefix + GROUP,
                          max_records=deps.settings.imports_batch_size)
    async def on_chunks(records: Records) -> None:
        for record in records:
            try:
                chunk = ImportChunk.model_validate_json(record.value or b"")
            except ValidationError as e:  # only our own CLI writes here: a bug, not input
                log.error("unreadable import chunk", topic=record.topic,
                          partition=record.partition, offset=record.offset, error=str(e))
                continue
            with structlog.contextvars.bound_contextvars(service="imports",
                                                         job_id=str(chunk.job_id),
                                                         chunk=chunk.chunk_no):
                await process_chunk(deps.pool, deps.producer, chunk)

    return r

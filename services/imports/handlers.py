"""Thin Kafka handlers: take the raw batch, bind log context, call the logic."""

import structlog
from faststream.kafka import KafkaRouter

from schemas.imports import ImportChunk
from services.imports.logic import process_chunk
from shared.broker import Records, decode_records, raw_batch_subscriber
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
        # only our own CLI writes here: an invalid chunk is a bug, logged and skipped
        for chunk, _ in decode_records(ImportChunk, records, "imports"):
            with structlog.contextvars.bound_contextvars(service="imports",
                                                         job_id=str(chunk.job_id),
                                                         chunk=chunk.chunk_no):
                await process_chunk(deps.pool, deps.producer, chunk)

    return r

"""`clients import FILE`: stream a file into chunks, then follow the job to its end.

The file is read once, as a stream (memory stays flat whatever its size). Rows are dealt into
buckets by their email key and each bucket's chunks are published under one partition key, so
chunks run in parallel across partitions while every person's rows are resolved in file order:
a later row is then truly reported as the duplicate of an earlier one.
"""

import asyncio
import csv
import json
import sys
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO
from uuid import UUID, uuid4

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from schemas.imports import ImportChunk, ImportMode, ImportProgress, ImportRow
from services.imports import sql
from services.imports.errors import JobNotFoundError, MissingColumnsError
from services.imports.files import Mapping, map_header, open_table
from services.imports.logic import progress_of
from shared.db import Pool
from shared.normalize import email_key
from shared.publish import create_producer, publish_keyed
from shared.settings import Settings, servers
from shared.stores import StoreNotFoundError, region_of
from shared.topics import IMPORT_CHUNKS, IMPORT_PROGRESS


@dataclass(frozen=True)
class ImportRequest:
    path: Path
    store_id: UUID
    mode: ImportMode = "skip"
    source_label: str | None = None
    explicit: dict[str, str] = field(default_factory=dict)  # --map "Header=field"


# Chunks published but not yet acked: the CLI's memory stays flat however large the file.
MAX_IN_FLIGHT = 16


@dataclass
class _Chunker:
    """Deals rows into buckets and publishes a bucket's chunk when it is full."""

    settings: Settings
    producer: AIOKafkaProducer
    template: dict[str, Any]
    buckets: int
    pending: list[list[ImportRow]] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    sent: list[asyncio.Future[Any]] = field(default_factory=list)
    chunks: int = 0
    rows: int = 0

    def __post_init__(self) -> None:
        self.pending = [[] for _ in range(self.buckets)]
        self.sizes = [0] * self.buckets

    async def add(self, row: ImportRow) -> None:
        email = row.fields.get("email", "").strip()
        bucket = zlib.crc32((email_key(email) if email else str(row.row)).encode()) % self.buckets
        self.pending[bucket].append(row)
        self.sizes[bucket] += sum(len(v) + len(k) + 8 for k, v in row.fields.items())
        self.rows += 1
        if (len(self.pending[bucket]) >= self.settings.import_chunk_rows
                or self.sizes[bucket] >= self.settings.import_chunk_bytes):
            await self._publish(bucket)

    async def close(self) -> None:
        for bucket in range(self.buckets):
            if self.pending[bucket]:
                await self._publish(bucket)
        await asyncio.gather(*self.sent)

    async def _publish(self, bucket: int) -> None:
        chunk = ImportChunk(**self.template, chunk_no=self.chunks, rows=self.pending[bucket])
        key = f"{chunk.job_id}/{bucket}".encode()
        self.sent.append(await self.producer.send(IMPORT_CHUNKS, chunk.model_dump_json().encode(),
                                                  key=key))
        if len(self.sent) >= MAX_IN_FLIGHT:
            await self.sent.pop(0)
        self.chunks += 1
        self.pending[bucket], self.sizes[bucket] = [], 0


def mapped(request: ImportRequest, header: list[str]) -> Mapping:
    """The file's columns mapped: the request's explicit mapping, then the synonyms."""
    return map_header(header, request.explicit)


async def submit(settings: Settings, pool: Pool, request: ImportRequest,
                 on_progress: Callable[[ImportProgress], None],
                 on_unmapped: Callable[[list[str]], None] = lambda _: None) -> ImportProgress:
    """Validate the header, record the job, publish its chunks, follow it until done."""
    with open_table(request.path) as (header, rows):
        mapping = mapped(request, header)
        if missing := mapping.missing():
            raise MissingColumnsError(request.path, missing)
        region = await region_of(pool, request.store_id)
        if region is None:
            raise StoreNotFoundError(request.store_id)
        if mapping.unmapped:
            on_unmapped(mapping.unmapped)
        job_id = uuid4()
        label = request.source_label or f"import:{request.path.name}"
        await pool.fetchval(sql.CREATE_JOB, job_id, request.store_id, request.path.name,
                            request.mode, label, mapping.unmapped)
        progress = await _follow(settings)  # listening before the first chunk is out
        producer = create_producer(settings)
        await producer.start()
        try:
            template = {"job_id": job_id, "store_id": request.store_id, "region": region,
                        "mode": request.mode, "source_label": label, "columns": mapping.columns}
            chunker = _Chunker(settings=settings, producer=producer,
                               buckets=settings.topic_partitions, template=template)
            await _stream(rows, mapping, chunker)
            await chunker.close()
            sealed = await pool.fetchrow(sql.SEAL_JOB, job_id, chunker.rows, chunker.chunks)
            assert sealed is not None
            if progress_of(sealed).done:  # every chunk was in before the seal: announce it
                await publish_keyed(producer, IMPORT_PROGRESS,
                                    [(str(job_id), progress_of(sealed))])
        finally:
            await producer.stop()
    try:
        return await _until_done(pool, progress, job_id, on_progress)
    finally:
        await progress.stop()


async def _stream(rows: Any, mapping: Mapping, chunker: _Chunker) -> None:
    for number, cells in enumerate(rows, start=2):  # the header is row 1
        if not any(c.strip() for c in cells):
            continue  # a blank line is not a row
        fields = {f: (cells[i] if i < len(cells) else "") for f, i in mapping.index.items()}
        await chunker.add(ImportRow(row=number, fields=fields))


async def _follow(settings: Settings) -> AIOKafkaConsumer:
    consumer = AIOKafkaConsumer(IMPORT_PROGRESS,
                                bootstrap_servers=servers(settings.kafka_bootstrap_servers),
                                group_id=None, enable_auto_commit=False,
                                auto_offset_reset="latest")
    await consumer.start()
    async with asyncio.timeout(30):
        while not consumer.assignment():  # noqa: ASYNC110 - aiokafka has no event for it
            await asyncio.sleep(0.02)
    for tp in consumer.assignment():
        await consumer.position(tp)
    return consumer


async def _until_done(pool: Pool, consumer: AIOKafkaConsumer, job_id: UUID,
                      on_progress: Callable[[ImportProgress], None]) -> ImportProgress:
    """Progress events as they come; the job row now and then, should an event go missing."""
    last_check = time.monotonic()
    while True:
        batches: dict[TopicPartition, Any] = await consumer.getmany(timeout_ms=500)
        for records in batches.values():
            for record in records:
                p = ImportProgress.model_validate_json(record.value or b"")
                if p.job_id == job_id:
                    on_progress(p)
                    if p.done:
                        return p
        if time.monotonic() - last_check > 2:
            last_check = time.monotonic()
            counts = await pool.fetchrow(sql.COUNTS, job_id)
            if counts is not None and progress_of(counts).done:
                on_progress(progress_of(counts))
                return progress_of(counts)


async def job_status(pool: Pool, job_id: UUID) -> dict[str, Any]:
    row = await pool.fetchrow(sql.JOB, job_id)
    if row is None:
        raise JobNotFoundError(job_id)
    return {**dict(row), "done": row["total"] is not None and row["processed"] == row["total"]}


async def write_results(pool: Pool, job_id: UUID, out: TextIO) -> int:
    """`row,status,client_id,column,message` for every data row, streamed from the database."""
    if await pool.fetchval(sql.COUNTS, job_id) is None:
        raise JobNotFoundError(job_id)
    writer = csv.writer(out)
    writer.writerow(["row", "status", "client_id", "column", "message"])
    n = 0
    async with pool.acquire() as conn, conn.transaction():
        async for r in conn.cursor(sql.RESULTS, job_id, prefetch=5000):
            writer.writerow([r["row"], r["status"], r["client_id"] or "", r["column_name"] or "",
                             r["message"] or ""])
            n += 1
    return n


class ProgressBar:
    """A bar on a terminal; a plain line every tenth (and at the end) otherwise."""

    def __init__(self, stream: TextIO = sys.stderr) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.last_tenth = -1

    def __call__(self, p: ImportProgress) -> None:
        line = (f"{p.processed}/{p.total if p.total is not None else '?'} rows: "
                f"{p.created} created, {p.updated} updated, {p.skipped} skipped, "
                f"{p.failed} failed")
        if self.tty:
            share = p.processed / p.total if p.total else 0.0
            bar = "#" * int(share * 30)
            self.stream.write(f"\r[{bar:<30}] {share:4.0%} {line}" + ("\n" if p.done else ""))
            self.stream.flush()
            return
        tenth = int(10 * p.processed / p.total) if p.total else -1
        if p.done or tenth > self.last_tenth:
            self.last_tenth = tenth
            print(line, file=self.stream, flush=True)


def summary(p: ImportProgress) -> str:
    return json.dumps({"job_id": str(p.job_id), "total": p.total, "created": p.created,
                       "updated": p.updated, "skipped": p.skipped, "failed": p.failed})

"""One chunk of an import file -> per-row results, exact job counts, a progress event.

Rows go through the same resolver as ingest (request id `import:<job>:<row>`, so a chunk
processed again gets the recorded outcomes). The chunk is then marked, its rows' results stored
and the job's counters added in one transaction: a chunk delivered twice is counted once, and
total = created + updated + skipped + failed always holds.
"""

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import structlog
from aiokafka import AIOKafkaProducer
from pydantic import ValidationError

from schemas.addresses import Address
from schemas.imports import ImportChunk, ImportProgress, ImportRow, RowStatus
from schemas.ingest import ClientFields
from schemas.upsert import UpsertCommand, UpsertResult
from services.imports import sql
from services.imports.files import ADDRESS_FIELDS
from shared import addresses
from shared.db import Pool
from shared.normalize import InvalidRecordError, field_errors, to_command
from shared.publish import publish_keyed
from shared.resolver import resolve_batch
from shared.topics import IMPORT_PROGRESS

log = structlog.get_logger(__name__)

# (status, client_id, column, message) for one data row
Outcome = tuple[RowStatus, UUID | None, str | None, str | None]


def request_id(job_id: UUID, row: int) -> str:
    return f"import:{job_id}:{row}"


def row_of(job_id: UUID, request: str) -> int | None:
    prefix = f"import:{job_id}:"
    return int(request[len(prefix):]) if request.startswith(prefix) else None


async def process_chunk(pool: Pool, producer: AIOKafkaProducer, chunk: ImportChunk) -> None:
    counts = await pool.fetchrow(sql.COUNTS, chunk.job_id)
    if counts is None:
        log.error("chunk of an unknown import job", job_id=str(chunk.job_id))
        return
    if await pool.fetchval(sql.CHUNK_DONE, chunk.job_id, chunk.chunk_no):  # delivered again
        await publish_keyed(producer, IMPORT_PROGRESS, [(str(chunk.job_id), progress_of(counts))])
        return
    outcomes = await _resolve_rows(pool, chunk)
    async with pool.acquire() as conn, conn.transaction():
        if await conn.fetchval(sql.MARK_CHUNK, chunk.job_id, chunk.chunk_no) is None:
            counts = await conn.fetchrow(sql.COUNTS, chunk.job_id)  # counted before
        else:
            await conn.copy_records_to_table(
                "import_rows", columns=("job_id", "row", "status", "client_id", "column_name",
                                        "message"),
                records=[(chunk.job_id, row, *o) for row, o in outcomes.items()])
            tally = dict.fromkeys(("created", "updated", "skipped", "failed"), 0)
            for status, *_ in outcomes.values():
                tally[status] += 1
            counts = await conn.fetchrow(sql.ADD_COUNTS, chunk.job_id, len(outcomes),
                                         tally["created"], tally["updated"], tally["skipped"],
                                         tally["failed"])
    assert counts is not None
    await publish_keyed(producer, IMPORT_PROGRESS, [(str(chunk.job_id), progress_of(counts))])


def progress_of(counts: Any) -> ImportProgress:
    total = counts["total"]
    return ImportProgress(job_id=counts["id"], processed=counts["processed"], total=total,
                          created=counts["created"], updated=counts["updated"],
                          skipped=counts["skipped"], failed=counts["failed"],
                          done=total is not None and counts["processed"] == total)


async def _resolve_rows(pool: Pool, chunk: ImportChunk) -> dict[int, Outcome]:
    outcomes: dict[int, Outcome] = {}
    commands: list[tuple[ImportRow, UpsertCommand]] = []
    found: dict[int, Address] = {}
    now = datetime.now(UTC)
    for r in chunk.rows:
        try:
            command, address = row_command(chunk, r, now)
            commands.append((r, command))
            if address is not None:
                found[r.row] = address
        except ValidationError as e:
            outcomes[r.row] = _failed(chunk, [(x.field, x.message) for x in field_errors(e)])
        except InvalidRecordError as e:
            outcomes[r.row] = _failed(chunk, [(x.field, x.message) for x in e.errors])
    results = await resolve_batch(pool, [c for _, c in commands])
    first_rows = await _creating_rows(pool, chunk.job_id, results)
    for (r, _), result in zip(commands, results, strict=True):
        outcomes[r.row] = _status(chunk, r.row, result, first_rows)
    async with pool.acquire() as conn:  # the rows that created or updated a client
        await addresses.save(conn, [
            (chunk.store_id, result.client_id, "shipping", found[r.row])
            for (r, _), result in zip(commands, results, strict=True)
            if r.row in found and result.client_id is not None
            and outcomes[r.row][0] in ("created", "updated")], "import", now)
    return dict(sorted(outcomes.items()))


def unguard(cell: str) -> str:
    """A cell guarded against spreadsheet formulas ('=…, '+…: our export writes them so) is
    read without its guard."""
    return cell[1:] if cell[:1] == "'" and cell[1:2] in ("=", "+", "-", "@", "\t", "\r") \
        and len(cell) > 1 else cell


def row_command(chunk: ImportChunk, r: ImportRow, now: datetime
             ) -> tuple[UpsertCommand, Address | None]:
    """The row's upsert, and its address when it has one (a ValidationError names the cell)."""
    values: dict[str, Any] = {k: unguard(v) for k, v in r.fields.items() if v.strip()}
    if "tags" in values:
        values["tags"] = [t for t in values["tags"].replace(";", ",").split(",") if t.strip()]
    parts = {k: values.pop(k) for k in ADDRESS_FIELDS if k in values}
    # an address needs its street and city; a row with only a country or a zip has none
    address = Address.model_validate(parts) if {"address1", "city"} <= parts.keys() else None
    fields = ClientFields.model_validate(values)
    command = to_command(fields, request_id=request_id(chunk.job_id, r.row),
                         store_id=chunk.store_id, region=chunk.region,
                         source_label=chunk.source_label, on_match=chunk.mode, received_at=now)
    return command.model_copy(update={"import_job_id": chunk.job_id}), address


def _failed(chunk: ImportChunk, errors: list[tuple[str, str]]) -> Outcome:
    field, message = errors[0]
    column = chunk.columns.get(field.split(".")[0], field)
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return "failed", None, column, message + more


async def _creating_rows(pool: Pool, job_id: UUID, results: list[UpsertResult]
                         ) -> dict[UUID, int]:
    matched = [r.client_id for r in results if r.outcome.startswith("matched") and r.client_id]
    if not matched:
        return {}
    rows = await pool.fetch(sql.CREATING_TOUCHES, matched)
    return {r["client_id"]: n for r in rows if (n := row_of(job_id, r["request_id"]))}


def _status(chunk: ImportChunk, row: int, result: UpsertResult,
            first_rows: dict[UUID, int]) -> Outcome:
    if result.outcome == "rejected":
        error = result.errors[0] if result.errors else None
        return ("failed", None, chunk.columns.get(error.field) if error else None,
                error.message if error else "refused")
    if result.outcome == "created":
        return "created", result.client_id, None, None
    assert result.client_id is not None
    earlier = first_rows.get(result.client_id)
    if chunk.mode == "update":
        return "updated", result.client_id, None, None
    if earlier is not None and earlier != row:
        return ("skipped", result.client_id, None,
                f"duplicate of row {earlier} in this file")
    return "skipped", result.client_id, None, "duplicate of an existing client"

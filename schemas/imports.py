"""`clients.import.chunks.v1` (a slice of a CSV/XLSX file) and `clients.import.progress.v1`."""

from typing import Literal
from uuid import UUID

from pydantic import Field

from schemas.common import Contract

ImportMode = Literal["skip", "update"]
RowStatus = Literal["created", "updated", "skipped", "failed"]


class ImportRow(Contract):
    row: int = Field(description="as a spreadsheet shows it: the header is row 1")
    fields: dict[str, str] = Field(description="client field -> the cell's text")


class ImportChunk(Contract):
    job_id: UUID
    chunk_no: int
    store_id: UUID
    region: str
    mode: ImportMode
    source_label: str
    columns: dict[str, str] = Field(description="client field -> the file's column header")
    rows: list[ImportRow]


class ImportProgress(Contract):
    job_id: UUID
    processed: int
    total: int | None = Field(description="unknown until the whole file has been read")
    created: int
    updated: int
    skipped: int
    failed: int
    done: bool

"""The import wizard at the command line (seeds 000, 002, 003): `clients import template`
writes the CSV template with every importable column; `clients import FILE --dry-run` maps the
headers, checks every row exactly as the import would (the same validation and normalization,
in the store's region) and reports the first rows with a warning per cell, writing nothing."""

import csv
from datetime import UTC, datetime
from typing import Any, TextIO
from uuid import uuid4

from pydantic import ValidationError

from schemas.imports import COLUMNS, ImportChunk, ImportRow
from services.imports.errors import MissingColumnsError
from services.imports.files import open_table
from services.imports.logic import row_command
from services.imports.submit import ImportRequest, mapped
from shared.db import Pool
from shared.normalize import InvalidRecordError, checked_contact, field_errors
from shared.stores import StoreNotFoundError, region_of

SHOWN = 10  # rows reported in full


def write_template(out: TextIO) -> None:
    csv.writer(out).writerow([header for _, header in COLUMNS])


async def dry_run(pool: Pool, request: ImportRequest, shown: int = SHOWN) -> dict[str, Any]:
    """The mapping, the unmapped columns, and every row checked; nothing written."""
    region = await region_of(pool, request.store_id)
    if region is None:
        raise StoreNotFoundError(request.store_id)
    with open_table(request.path) as (header, rows):
        mapping = mapped(request, header)
        if missing := mapping.missing():
            raise MissingColumnsError(request.path, missing)
        chunk = ImportChunk(job_id=uuid4(), chunk_no=0, store_id=request.store_id,
                            region=region, mode=request.mode, source_label="dry run",
                            columns=mapping.columns, rows=[])
        report: dict[str, Any] = {
            "mapping": {mapping.columns[f]: f for f in mapping.index},
            "unmapped": mapping.unmapped, "rows": 0, "valid": 0, "invalid": 0, "first_rows": []}
        now = datetime.now(UTC)
        for n, cells in enumerate(rows, start=2):
            if not any(c.strip() for c in cells):
                continue
            row = ImportRow(row=n, fields={f: cells[i] if i < len(cells) else ""
                                           for f, i in mapping.index.items()})
            warnings = _warnings(chunk, row, now)
            report["rows"] += 1
            report["invalid" if warnings else "valid"] += 1
            if len(report["first_rows"]) < shown:
                report["first_rows"].append({
                    "row": n, "cells": {mapping.columns[f]: v for f, v in row.fields.items()},
                    "warnings": warnings})
    return report


def _warnings(chunk: ImportChunk, row: ImportRow, now: datetime) -> dict[str, str]:
    """The column -> what is wrong with it, as the import would report it."""
    try:
        row_command(chunk, row, now)
    except ValidationError as e:
        # the import stops at these; the checks after them are asked here too, so that one
        # dry run shows every cell that needs fixing
        errors = [(x.field, x.message) for x in field_errors(e)] + _contact_errors(chunk, row)
    except InvalidRecordError as e:
        errors = [(x.field, x.message) for x in e.errors]
    else:
        return {}
    warnings: dict[str, str] = {}
    for f, m in errors:
        warnings.setdefault(chunk.columns.get(f.split(".")[0], f), m)
    return warnings


def _contact_errors(chunk: ImportChunk, row: ImportRow) -> list[tuple[str, str]]:
    """The email and phone checks to_command makes after validation."""
    email, phone = row.fields.get("email", "").strip(), row.fields.get("phone", "").strip()
    _, errors = checked_contact(email or None, phone or None, chunk.region)
    return [(e.field, e.message) for e in errors]


def print_report(report: dict[str, Any], out: TextIO) -> None:
    print("columns:", file=out)
    for header, field in report["mapping"].items():
        print(f"  {header} -> {field}", file=out)
    if report["unmapped"]:
        print(f"not imported (no matching field): {', '.join(report['unmapped'])}", file=out)
    for r in report["first_rows"]:
        cells = "; ".join(f"{h}={v!r}" + (f" [{r['warnings'][h]}]" if h in r["warnings"]
                                           else "") for h, v in r["cells"].items())
        print(f"row {r['row']}: {cells}", file=out)
        for h, message in r["warnings"].items():
            if h not in r["cells"]:
                print(f"row {r['row']}: {h}: {message}", file=out)
    print(f"dry run: {report['rows']} rows, {report['valid']} would import, "
          f"{report['invalid']} would fail; nothing was written", file=out)


def parse_explicit(given: list[str]) -> dict[str, str]:
    """`--map "Cell=phone"` (the file's header = the client field), each once."""
    explicit: dict[str, str] = {}
    for item in given:
        header, sep, field = item.rpartition("=")
        if not sep or not header.strip() or not field.strip():
            raise ValueError(f"--map {item!r}: HEADER=FIELD")
        explicit[header.strip()] = field.strip()
    return explicit




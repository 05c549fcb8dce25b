"""Bulk import on the real broker and database (seed 000 "Bulk import", seeds 002 and 003)."""

import asyncio
import csv
import io
import json
import os
import sys
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from schemas.imports import ImportProgress
from services.imports import submit as imports
from services.imports.errors import MissingColumnsError
from services.imports.submit import ImportRequest
from shared import stores
from shared.db import Pool
from shared.topics import EVENTS, IMPORT_CHUNKS, IMPORT_PROGRESS
from tests.conftest import Pipeline
from tests.support.kafka_helpers import Watcher, produce

SHOPIFY = ("Customer ID,First Name,Last Name,Email,Accepts Email Marketing,"
           "Default Address Company,Default Address Address1,Default Address Address2,"
           "Default Address City,Default Address Province Code,Default Address Country Code,"
           "Default Address Zip,Default Address Phone,Phone,Accepts SMS Marketing,Total Spent,"
           "Total Orders,Note,Tax Exempt,Tags")
HUBSPOT = ("Record ID,First Name,Last Name,Email,Phone Number,Company Name,Contact owner,"
           "Lead Status,Marketing contact status,Create Date")


def write_csv(path: Path, header: list[str] | str, rows: list[list[str]],
              delimiter: str = ",", bom: bool = False) -> Path:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter)
    writer.writerow(header.split(",") if isinstance(header, str) else header)
    writer.writerows(rows)
    path.write_text(("\ufeff" if bom else "") + out.getvalue(), encoding="utf-8")
    return path


async def run_import(p: Pipeline, pool: Pool, path: Path, store: stores.Store,
                     mode: str = "skip") -> tuple[ImportProgress, list[ImportProgress],
                                                  list[dict[str, str]]]:
    seen: list[ImportProgress] = []
    final = await imports.submit(p.settings, pool, ImportRequest(path=path, store_id=store.id,
                                                                 mode=mode),  # type: ignore[arg-type]
                                 seen.append)
    out = io.StringIO()
    await imports.write_results(pool, final.job_id, out)
    return final, seen, list(csv.DictReader(io.StringIO(out.getvalue())))


async def clients_of(pool: Pool, store: stores.Store) -> dict[str, dict[str, Any]]:
    rows = await pool.fetch("SELECT * FROM clients WHERE store_id = $1", store.id)
    return {r["email_key"] or r["phone"]: dict(r) for r in rows}


async def test_the_seeds_100_row_file_with_one_bad_row(
        pipeline: Pipeline, pool: Pool, store: stores.Store, tmp_path: Path) -> None:
    rows = [[f"Client {i}", f"client{i}@shop.example.com"] for i in range(100)]
    rows[41][1] = "client41-at-shop.example.com"           # spreadsheet row 43
    async with Watcher(pipeline.settings.kafka_bootstrap_servers, EVENTS) as events:
        final, seen, results = await run_import(
            pipeline, pool, write_csv(tmp_path / "clients.csv", "Name,Email", rows), store)
        created = await events.take(lambda v: v["store_id"] == str(store.id), count=99)
    assert (final.total, final.created, final.failed, final.skipped, final.updated) == \
        (100, 99, 1, 0, 0)
    assert final.done
    assert seen[-1].done
    assert all(not p.done for p in seen[:-1])
    (bad,) = [r for r in results if r["status"] == "failed"]
    assert (bad["row"], bad["column"]) == ("43", "Email")
    assert "@" in bad["message"]
    assert len(await clients_of(pool, store)) == 99
    # imported clients carry the import's source label and emit the usual events
    assert {e["type"] for e in created} == {"client.created"}
    assert {e["client"]["source_label"] for e in created} == {"import:clients.csv"}


async def test_duplicates_in_the_database_and_within_the_file_are_skipped_saying_which(
        pipeline: Pipeline, pool: Pool, store: stores.Store, tmp_path: Path) -> None:
    await run_import(pipeline, pool, write_csv(tmp_path / "a.csv", "Name,Email",
                                               [["Old Timer", "old@shop.com"]]), store)
    rows = [["New One", "new@shop.com"], ["Old Again", "OLD@shop.com"],
            ["New Again", " new@SHOP.com "]]
    final, _, results = await run_import(
        pipeline, pool, write_csv(tmp_path / "b.csv", "Name,Email", rows), store)
    assert (final.created, final.skipped) == (1, 2)
    by_row = {r["row"]: r for r in results}
    assert by_row["3"]["message"] == "duplicate of an existing client"
    assert by_row["4"]["message"] == "duplicate of row 2 in this file"
    assert by_row["4"]["client_id"] == by_row["2"]["client_id"]


async def test_skip_mode_leaves_clients_and_update_mode_overwrites_them(
        pipeline: Pipeline, pool: Pool, store: stores.Store, tmp_path: Path) -> None:
    header = "Name,Email,Company,Phone"
    await run_import(pipeline, pool, write_csv(tmp_path / "a.csv", header,
                                               [["Ada", "ada@shop.com", "Old Co", ""]]), store)
    newer = write_csv(tmp_path / "b.csv", header,
                      [["Ada L", "ada@shop.com", "New Co", "(415) 555-2671"]])
    skipped, _, _ = await run_import(pipeline, pool, newer, store, mode="skip")
    assert (skipped.skipped, skipped.updated) == (1, 0)
    assert (await clients_of(pool, store))["ada@shop.com"]["company"] == "Old Co"
    updated, _, results = await run_import(pipeline, pool, newer, store, mode="update")
    assert (updated.updated, updated.skipped) == (1, 0)
    assert results[0]["status"] == "updated"
    row = (await clients_of(pool, store))["ada@shop.com"]
    assert (row["name"], row["company"], row["phone"]) == ("Ada L", "New Co", "+14155552671")


@pytest.mark.parametrize(("header", "row", "expect"), [
    (SHOPIFY, ["7001", "Ada", "Lovelace", "ada@shop.com", "yes", "Engines Ltd", "12 Main St",
               "Unit 4", "Springfield", "IL", "US", "62701", "+1 415 555 0000",
               "(415) 555-2671", "no", "10", "1", "first buyer", "no", "vip, Net-30"],
     {"first_name": "Ada", "last_name": "Lovelace", "company": "Engines Ltd",
      "phone": "+14155552671", "notes": "first buyer", "tags": ["vip", "net-30"],
      "source_external_id": "7001", "accepts_marketing": True}),
    (HUBSPOT, ["51", "Grace", "Hopper", "grace@shop.com", "415-555-2671", "Navy", "Me", "New",
               "Marketing", "2024-01-01"],
     {"first_name": "Grace", "last_name": "Hopper", "company": "Navy",
      "phone": "+14155552671", "source_external_id": "51"}),
])
async def test_shopify_and_hubspot_exports_import_without_editing(
        pipeline: Pipeline, pool: Pool, store: stores.Store, tmp_path: Path, header: str,
        row: list[str], expect: dict[str, Any]) -> None:
    final, _, _ = await run_import(pipeline, pool, write_csv(tmp_path / "x.csv", header, [row]),
                                   store)
    assert final.created == 1, final
    (client,) = (await clients_of(pool, store)).values()
    assert {k: client[k] for k in expect} == expect
    job = await imports.job_status(pool, final.job_id)
    assert "Accepts SMS Marketing" in job["unmapped_columns"] or header == HUBSPOT
    assert "Lead Status" in job["unmapped_columns"] or header == SHOPIFY
    saved = [tuple(a) for a in await pool.fetch(
        "SELECT type, address1, address2, city, state, pincode, country, is_default, source "
        "FROM client_addresses WHERE client_id = $1", client["id"])]
    assert saved == ([("shipping", "12 Main St", "Unit 4", "Springfield", "IL", "62701", "US",
                       True, "import")] if header == SHOPIFY else [])


async def test_a_full_name_column_is_split_and_synonyms_match(
        pipeline: Pipeline, pool: Pool, store: stores.Store, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "names.csv", ["Customer Name", "E-Mail Address", "Mobile"],
                     [["Jane van Doe", "jane@shop.com", "4155552671"]], delimiter=";", bom=True)
    final, _, _ = await run_import(pipeline, pool, path, store)
    assert final.created == 1
    client = (await clients_of(pool, store))["jane@shop.com"]
    assert (client["name"], client["first_name"], client["last_name"], client["phone"]) == \
        ("Jane van Doe", "Jane", "van Doe", "+14155552671")


@pytest.mark.parametrize(("delimiter", "bom"), [(",", True), (";", False), ("\t", False)])
async def test_delimiters_and_a_byte_order_mark_are_detected(
        pipeline: Pipeline, pool: Pool, store: stores.Store, tmp_path: Path, delimiter: str,
        bom: bool) -> None:
    path = write_csv(tmp_path / "d.csv", ["Email", "First Name", "Last Name", "Notes"],
                     [["d@shop.com", "Dee", "Limiter", "a, b; c"]], delimiter=delimiter, bom=bom)
    final, _, _ = await run_import(pipeline, pool, path, store)
    assert final.created == 1
    client = (await clients_of(pool, store))["d@shop.com"]
    assert (client["name"], client["notes"]) == ("Dee Limiter", "a, b; c")


async def test_xlsx_files_import_too(pipeline: Pipeline, pool: Pool, store: stores.Store,
                                     tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["First Name", "Last Name", "Email", "Phone"])
    sheet.append(["Alan", "Turing", "alan@shop.com", 4155552671])
    book.save(tmp_path / "clients.xlsx")
    final, _, _ = await run_import(pipeline, pool, tmp_path / "clients.xlsx", store)
    assert final.created == 1
    assert (await clients_of(pool, store))["alan@shop.com"]["phone"] == "+14155552671"


@pytest.mark.parametrize(("header", "missing"), [
    ("Email,Company", "name"), ("First Name,Company", "email or phone"), ("", "header")])
async def test_a_file_missing_required_columns_is_refused_and_nothing_is_written(
        pipeline: Pipeline, pool: Pool, store: stores.Store, tmp_path: Path, header: str,
        missing: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(header + ("\nx,y\n" if header else ""), encoding="utf-8")
    with pytest.raises((MissingColumnsError, ValueError), match=missing):
        await imports.submit(pipeline.settings, pool,
                             ImportRequest(path=path, store_id=store.id), lambda _: None)
    assert await pool.fetchval("SELECT count(*) FROM import_jobs WHERE store_id = $1",
                               store.id) == 0
    assert await clients_of(pool, store) == {}


async def test_a_chunk_delivered_twice_keeps_the_counts_exact(
        pipeline: Pipeline, pool: Pool, store: stores.Store, tmp_path: Path) -> None:
    rows = [[f"P {i}", f"p{i}@shop.com"] for i in range(30)] + [["P 0", "P0@shop.com"]]
    bootstrap = pipeline.settings.kafka_bootstrap_servers
    async with Watcher(bootstrap, IMPORT_CHUNKS) as chunks:
        final, _, _ = await run_import(
            pipeline, pool, write_csv(tmp_path / "c.csv", "Name,Email", rows), store)
        (chunk,) = await chunks.take(lambda v: v["job_id"] == str(final.job_id), count=1)
    async with Watcher(bootstrap, IMPORT_PROGRESS) as progress:
        await produce(bootstrap, IMPORT_CHUNKS, [chunk], keys=[str(final.job_id)])
        (again,) = await progress.take(lambda v: v["job_id"] == str(final.job_id))
    assert ImportProgress.model_validate(again) == final   # counted once, still done
    job = await imports.job_status(pool, final.job_id)
    assert (job["total"], job["created"], job["skipped"], job["failed"]) == (31, 30, 1, 0)
    assert job["processed"] == job["created"] + job["updated"] + job["skipped"] + job["failed"]
    assert len(await clients_of(pool, store)) == 30


async def test_the_cli_prints_the_summary_and_writes_the_results_file(
        pipeline: Pipeline, pool: Pool, store: stores.Store, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "cli.csv", "Name,Email,Notes",
                     [["A", "a@shop.com", ""], ["B", "nope", ""], ["A2", "A@shop.com", "x"]])
    out = tmp_path / "results.csv"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.cli", "import", str(path), "--store", str(store.id),
        "--json", "--results", str(out), env={**os.environ, "LOG_FORMAT": "json"},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    stdout, stderr = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 0, stderr.decode()
    summary = json.loads(stdout)
    assert {k: summary[k] for k in ("total", "created", "updated", "skipped", "failed")} == \
        {"total": 3, "created": 1, "updated": 0, "skipped": 1, "failed": 1}
    got = list(csv.reader(out.open()))
    assert got[0] == ["row", "status", "client_id", "column", "message"]
    assert [(r[0], r[1], r[3]) for r in got[1:]] == \
        [("2", "created", ""), ("3", "failed", "Email"), ("4", "skipped", "")]
    assert got[3][4] == "duplicate of row 2 in this file"

    status = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.cli", "import", "status", summary["job_id"],
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    status_out, _ = await asyncio.wait_for(status.communicate(), timeout=60)
    assert json.loads(status_out)["done"] is True

    later = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.cli", "import", "results", summary["job_id"],
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    results_out, _ = await asyncio.wait_for(later.communicate(), timeout=60)
    assert list(csv.reader(io.StringIO(results_out.decode()))) == got

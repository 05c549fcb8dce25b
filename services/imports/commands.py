"""`clients import FILE …`, `clients import status|results JOB`."""

import argparse
import sys
from pathlib import Path
from typing import Any
from uuid import UUID

from services.imports import submit as imports
from services.imports import wizard
from services.imports.submit import ImportRequest
from shared.cli import USER_ERRORS, SubParsers, UsageError, with_pool
from shared.db import Pool
from shared.settings import Settings

USAGE = ("clients import FILE --store ID [--mode skip|update] [--source-label L] "
         "[--map HEADER=FIELD ...] [--dry-run] [--results OUT.csv] [--json] | "
         "clients import status|results JOB | clients import template [--out FILE]")


class ImportRefusedError(ValueError):
    """The file cannot be imported at all (unreadable, required columns missing, no store)."""

    exit_code = 2


def commands(sub: SubParsers, groups: dict[str, SubParsers]) -> None:
    imp = sub.add_parser("import", help="import a CSV/XLSX file; or: import status|results JOB; "
                         "or: import template")
    imp.add_argument("target", nargs="+", metavar="FILE | status JOB | results JOB | template")
    imp.add_argument("--store", type=UUID)
    imp.add_argument("--mode", choices=["skip", "update"], default="skip",
                     help="what a row matching an existing client does (default skip)")
    imp.add_argument("--source-label", help="stamped on created clients (default import:FILE)")
    imp.add_argument("--results", metavar="OUT.csv", help="write row,status,client_id,column,"
                     "message for every data row")
    imp.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    imp.add_argument("--map", action="append", default=[], metavar="HEADER=FIELD",
                     help='map a column explicitly, over the synonyms: --map "Cell=phone"')
    imp.add_argument("--dry-run", action="store_true", help="map the headers and check every "
                     "row; print the mapping and the first rows with their warnings; write "
                     "nothing")
    imp.add_argument("--out", metavar="FILE", help="template: write it here (default stdout)")
    imp.set_defaults(fn=cmd_import)


async def cmd_import(settings: Settings, args: argparse.Namespace) -> Any:
    target = args.target
    if target == ["template"]:
        if args.out:
            with Path(args.out).open("w", newline="") as out:  # noqa: ASYNC230
                wizard.write_template(out)
        else:
            wizard.write_template(sys.stdout)
        return None
    if target[0] in ("status", "results") and len(target) == 2:
        return await with_pool(settings, lambda p: _report(p, target[0], UUID(target[1])))
    if len(target) != 1 or args.store is None:
        raise UsageError(USAGE)
    try:
        explicit = wizard.parse_explicit(args.map)
    except ValueError as e:
        raise UsageError(str(e)) from e
    request = ImportRequest(path=Path(target[0]), store_id=args.store, mode=args.mode,
                            source_label=args.source_label, explicit=explicit)
    if args.dry_run:
        return await with_pool(settings, lambda p: _dry_run(p, request, args.json))

    def unmapped(columns: list[str]) -> None:
        print(f"not imported (no matching field): {', '.join(columns)}", file=sys.stderr)

    async def go(pool: Pool) -> None:
        try:
            final = await imports.submit(settings, pool, request, imports.ProgressBar(),
                                         unmapped)
        except USER_ERRORS as e:
            raise ImportRefusedError(str(e)) from e
        if args.results:
            # a local file, written in a process that has nothing else to do meanwhile
            with Path(args.results).open("w", newline="") as out:  # noqa: ASYNC230
                await imports.write_results(pool, final.job_id, out)
        print(imports.summary(final) if args.json else
              f"import {final.job_id}: {final.total} rows, {final.created} created, "
              f"{final.updated} updated, {final.skipped} skipped, {final.failed} failed")
    return await with_pool(settings, go)


async def _dry_run(pool: Pool, request: ImportRequest, as_json: bool) -> Any:
    try:
        report = await wizard.dry_run(pool, request)
    except USER_ERRORS as e:
        raise ImportRefusedError(str(e)) from e
    if as_json:
        return report
    wizard.print_report(report, sys.stdout)
    return None


async def _report(pool: Pool, what: str, job_id: UUID) -> Any:
    if what == "status":
        return await imports.job_status(pool, job_id)
    await imports.write_results(pool, job_id, sys.stdout)
    return None

"""`clients`: the project's single command line."""

import argparse
import asyncio
import json
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import structlog

from services.delivery import queries as inbox
from services.imports import submit as imports
from services.imports.submit import ImportRequest
from services.registry import SERVICES
from services.webhooks import endpoints as webhooks
from services.webhooks.errors import UnsafeURLError
from shared import stores
from shared.db import Pool, create_pool
from shared.logging import configure_logging
from shared.migrate import migrate
from shared.runner import run
from shared.settings import Settings
from shared.topics import ensure_topics, project_topics

log = structlog.get_logger(__name__)


def _print(obj: Any) -> None:
    print(json.dumps(obj, default=str, indent=2))


async def _with_pool(settings: Settings, fn: Callable[[Pool], Awaitable[Any]]) -> Any:
    pool = await create_pool(settings)
    try:
        return await fn(pool)
    finally:
        await pool.close()


async def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    applied = await migrate(settings.database_url)
    _print({"applied": applied})
    return 0


async def cmd_topics(settings: Settings, args: argparse.Namespace) -> int:
    _print(await ensure_topics(settings.kafka_bootstrap_servers, project_topics(settings)))
    return 0


async def cmd_store_create(settings: Settings, args: argparse.Namespace) -> int:
    store = await _with_pool(settings, lambda p: stores.create_store(p, args.name, args.region))
    _print(store.__dict__)
    return 0


async def cmd_store_channels(settings: Settings, args: argparse.Namespace) -> int:
    try:
        _print(await _with_pool(settings, lambda p: inbox.set_channels(
            p, args.store, args.sms_number, args.email_address)))
    except (ValueError, LookupError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


async def cmd_inbox(settings: Settings, args: argparse.Namespace) -> int:
    target = args.target
    try:
        if len(target) == 2 and target[0] == "thread":
            thread_id = UUID(target[1])
            _print(await _with_pool(settings, lambda p: inbox.thread(p, thread_id, args.store)))
        elif not target and args.store is not None:
            _print(await _with_pool(settings, lambda p: inbox.threads(p, args.store,
                                                                      args.limit)))
        else:
            print("usage: clients inbox --store ID | clients inbox thread THREAD_ID "
                  "[--store ID]", file=sys.stderr)
            return 2
    except (ValueError, LookupError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


async def cmd_key_create(settings: Settings, args: argparse.Namespace) -> int:
    try:
        key = await _with_pool(settings, lambda p: stores.create_key(p, args.store, args.label))
    except stores.StoreNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    _print({**key.__dict__, "note": "the token is shown only now; store it safely"})
    return 0


async def cmd_key_revoke(settings: Settings, args: argparse.Namespace) -> int:
    try:
        revoked_at = await _with_pool(settings, lambda p: stores.revoke_key(p, args.key))
    except stores.KeyNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    _print({"id": args.key, "revoked_at": revoked_at})
    return 0


async def cmd_import(settings: Settings, args: argparse.Namespace) -> int:
    target = args.target
    if target[0] in ("status", "results") and len(target) == 2:
        code: int = await _with_pool(settings,
                                     lambda p: _import_report(p, target[0], target[1]))
        return code
    if len(target) != 1 or args.store is None:
        print("usage: clients import FILE --store ID [--mode skip|update] [--source-label L] "
              "[--results OUT.csv] [--json] | clients import status|results JOB",
              file=sys.stderr)
        return 2
    request = ImportRequest(path=Path(target[0]), store_id=args.store, mode=args.mode,
                            source_label=args.source_label)

    def unmapped(columns: list[str]) -> None:
        print(f"not imported (no matching field): {', '.join(columns)}", file=sys.stderr)

    async def go(pool: Pool) -> int:
        try:
            final = await imports.submit(settings, pool, request, imports.ProgressBar(),
                                         unmapped)
        except (OSError, ValueError, LookupError) as e:  # unreadable, missing columns, store
            print(f"error: {e}", file=sys.stderr)
            return 2
        if args.results:
            # a local file, written in a process that has nothing else to do meanwhile
            with Path(args.results).open("w", newline="") as out:  # noqa: ASYNC230
                await imports.write_results(pool, final.job_id, out)
        print(imports.summary(final) if args.json else
              f"import {final.job_id}: {final.total} rows, {final.created} created, "
              f"{final.updated} updated, {final.skipped} skipped, {final.failed} failed")
        return 0
    result: int = await _with_pool(settings, go)
    return result


async def _import_report(pool: Pool, what: str, job: str) -> int:
    try:
        job_id = UUID(job)
        if what == "status":
            _print(await imports.job_status(pool, job_id))
        else:
            await imports.write_results(pool, job_id, sys.stdout)
    except (ValueError, LookupError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


async def cmd_webhook(settings: Settings, args: argparse.Namespace) -> int:
    async def go(pool: Pool) -> Any:
        match args.action:
            case "add":
                events = [e.strip() for e in (args.events or "").split(",") if e.strip()]
                return await webhooks.add_endpoint(pool, settings, args.store, args.url, events)
            case "list":
                return await webhooks.list_endpoints(pool, args.store)
            case "disable" | "enable":
                await webhooks.set_enabled(pool, args.endpoint, args.action == "enable")
                return {"id": args.endpoint, "enabled": args.action == "enable"}
            case "rotate-secret":
                return await webhooks.rotate_secret(pool, settings, args.endpoint)
            case "replay" if args.delivery is not None:
                endpoint = await webhooks.replay_delivery(pool, args.delivery)
                return {"endpoint": endpoint, "replayed": 1}
            case "replay" if args.endpoint is not None and args.since is not None:
                count = await webhooks.replay_failed(pool, args.endpoint, args.since)
                return {"endpoint": args.endpoint, "replayed": count}
            case "replay":
                raise ValueError("replay needs --delivery N, or ENDPOINT --since TIME")
            case "deliveries":
                return await webhooks.list_deliveries(pool, args.endpoint, args.state,
                                                      args.limit)
            case _:
                return await webhooks.attempts(pool, args.delivery)
    try:
        _print(await _with_pool(settings, go))
    except (UnsafeURLError, ValueError, LookupError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


async def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    unknown = [n for n in args.services if n not in SERVICES]
    if unknown:
        print(f"error: unknown service(s) {unknown}; known: {sorted(SERVICES)}", file=sys.stderr)
        return 2
    services = [SERVICES[n] for n in (args.services or SERVICES)]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await run(settings, services, stop)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="clients", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("migrate", help="apply database migrations").set_defaults(fn=cmd_migrate)
    sub.add_parser("topics", help="create or grow the Kafka topics").set_defaults(fn=cmd_topics)

    store = sub.add_parser("store", help="stores").add_subparsers(dest="action", required=True)
    create = store.add_parser("create", help="create a store")
    create.add_argument("--name", required=True)
    create.add_argument("--region", default="US", help="ISO country code for phone numbers")
    create.set_defaults(fn=cmd_store_create)
    channels = store.add_parser("channels", help="the store's SMS number and email address "
                                "(sending from them; inbound to them belongs to the store)")
    channels.add_argument("--store", required=True, type=UUID)
    channels.add_argument("--sms-number", help="the store's SendBlue number")
    channels.add_argument("--email-address", help="the store's sending/receiving address")
    channels.set_defaults(fn=cmd_store_channels)

    key = sub.add_parser("key", help="integration keys").add_subparsers(dest="action",
                                                                          required=True)
    kcreate = key.add_parser("create", help="create a key; its token is printed once")
    kcreate.add_argument("--store", required=True, type=UUID)
    kcreate.add_argument("--label", required=True)
    kcreate.set_defaults(fn=cmd_key_create)
    krevoke = key.add_parser("revoke", help="revoke a key")
    krevoke.add_argument("key", type=UUID)
    krevoke.set_defaults(fn=cmd_key_revoke)

    imp = sub.add_parser("import", help="import a CSV/XLSX file; or: import status|results JOB")
    imp.add_argument("target", nargs="+", metavar="FILE | status JOB | results JOB")
    imp.add_argument("--store", type=UUID)
    imp.add_argument("--mode", choices=["skip", "update"], default="skip",
                     help="what a row matching an existing client does (default skip)")
    imp.add_argument("--source-label", help="stamped on created clients (default import:FILE)")
    imp.add_argument("--results", metavar="OUT.csv", help="write row,status,client_id,column,"
                     "message for every data row")
    imp.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    imp.set_defaults(fn=cmd_import)

    box = sub.add_parser("inbox", help="a store's threads (newest activity first, unread "
                         "counts); or: inbox thread ID (its messages, oldest first)")
    box.add_argument("target", nargs="*", metavar="thread THREAD_ID")
    box.add_argument("--store", type=UUID)
    box.add_argument("--limit", type=int, default=100)
    box.set_defaults(fn=cmd_inbox)

    hook = sub.add_parser("webhook", help="webhook endpoints").add_subparsers(
        dest="action", required=True)
    hadd = hook.add_parser("add", help="register an endpoint; prints its id and secret")
    hadd.add_argument("--store", required=True, type=UUID)
    hadd.add_argument("--url", required=True)
    hadd.add_argument("--events", help="comma-separated event types (default: all)")
    hlist = hook.add_parser("list", help="a store's endpoints, with delivery counts")
    hlist.add_argument("--store", required=True, type=UUID)
    for action, text in (("disable", "stop sending; deliveries are kept for a replay"),
                         ("enable", "send again (what arrives from now on; see replay)"),
                         ("rotate-secret", "new secret; the old one still signs for a day")):
        hook.add_parser(action, help=text).add_argument("endpoint", type=UUID)
    hreplay = hook.add_parser("replay", help="send again: one delivery (--delivery), or every "
                              "failed one of ENDPOINT since --since")
    hreplay.add_argument("endpoint", type=UUID, nargs="?")
    hreplay.add_argument("--since", type=datetime.fromisoformat,
                         help="ISO time, e.g. 2026-11-24T10:00:00+00:00")
    hreplay.add_argument("--delivery", type=int)
    hdel = hook.add_parser("deliveries", help="an endpoint's latest deliveries")
    hdel.add_argument("endpoint", type=UUID)
    hdel.add_argument("--state", choices=["pending", "succeeded", "failed"])
    hdel.add_argument("--limit", type=int, default=50)
    hook.add_parser("attempts", help="every attempt of one delivery").add_argument(
        "delivery", type=int)
    for name in ("add", "list", "disable", "enable", "rotate-secret", "replay", "deliveries",
                 "attempts"):
        hook.choices[name].set_defaults(fn=cmd_webhook)

    runp = sub.add_parser("run", help="run services (all by default)")
    runp.add_argument("services", nargs="*", metavar="SERVICE",
                      help=f"any of: {', '.join(SERVICES)}")
    runp.set_defaults(fn=cmd_run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = Settings()
    configure_logging(settings)
    fn: Callable[[Settings, argparse.Namespace], Coroutine[Any, Any, int]] = args.fn
    return asyncio.run(fn(settings, args))


if __name__ == "__main__":
    sys.exit(main())

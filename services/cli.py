"""`clients`: the project's single command line. Here: its root, and store administration (stores,
keys, members); each feature adds its own subcommands (services/registry.py lists the modules)."""

import argparse
import asyncio
import importlib
import signal
import sys
from typing import Any
from uuid import UUID

import structlog

from services import registry
from shared import access, stores
from shared.cli import Handler, UsageError, execute, with_pool
from shared.db import Pool
from shared.logging import configure_logging
from shared.migrate import migrate
from shared.settings import Settings
from shared.topics import ensure_topics, project_topics

log = structlog.get_logger(__name__)


async def cmd_migrate(settings: Settings, args: argparse.Namespace) -> Any:
    return {"applied": await migrate(settings.database_url)}


async def cmd_topics(settings: Settings, args: argparse.Namespace) -> Any:
    return await ensure_topics(settings.kafka_bootstrap_servers, project_topics(settings))


async def cmd_store_create(settings: Settings, args: argparse.Namespace) -> Any:
    store = await with_pool(settings, lambda p: stores.create_store(p, args.name, args.region))
    return store.__dict__


SHOWN_ONCE = "the token is shown only now; store it safely"


async def cmd_key_create(settings: Settings, args: argparse.Namespace) -> Any:
    make = access.create_public_key if args.public else stores.create_key
    key = await with_pool(settings, lambda p: make(p, args.store, args.label))
    return {**key.__dict__, "note": SHOWN_ONCE}


async def cmd_key_revoke(settings: Settings, args: argparse.Namespace) -> Any:
    async def revoke(pool: Pool) -> Any:
        try:
            return await stores.revoke_key(pool, args.key)
        except stores.KeyNotFoundError:
            return await access.revoke_public_key(pool, args.key)
    return {"id": args.key, "revoked_at": await with_pool(settings, revoke)}


async def cmd_member(settings: Settings, args: argparse.Namespace) -> Any:
    async def go(pool: Pool) -> Any:
        match args.action:
            case "add":
                member = await access.add_member(pool, args.store, args.name, args.role)
                return {**member.__dict__, "scopes": sorted(access.ROLE_SCOPES[member.role]),
                        "note": SHOWN_ONCE}
            case "list":
                return await access.list_members(pool, args.store)
            case _:
                return {"id": args.member,
                        "revoked_at": await access.revoke_member(pool, args.member)}
    return await with_pool(settings, go)


async def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    from shared.runner import run  # FastStream and uvicorn: only for the command that runs them

    unknown = [n for n in args.services if n not in registry.APPS]
    if unknown:
        raise UsageError(f"unknown service(s) {unknown}; known: {sorted(registry.APPS)}")
    services = [registry.service(n) for n in (args.services or registry.APPS)]
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

    key = sub.add_parser("key", help="integration keys").add_subparsers(dest="action",
                                                                          required=True)
    kcreate = key.add_parser("create", help="create a key; its token is printed once")
    kcreate.add_argument("--store", required=True, type=UUID)
    kcreate.add_argument("--label", required=True)
    kcreate.add_argument("--public", action="store_true",
                         help="a read-only public key (pck_pub_, clients:read) instead of an "
                         "integration key (pck_int_, upserts)")
    kcreate.set_defaults(fn=cmd_key_create)
    krevoke = key.add_parser("revoke", help="revoke a key (integration or public)")
    krevoke.add_argument("key", type=UUID)
    krevoke.set_defaults(fn=cmd_key_revoke)

    member = sub.add_parser("member", help="a store's members (tokens pck_usr_, scopes by "
                            "role)").add_subparsers(dest="action", required=True)
    madd = member.add_parser("add", help="add a member; the token is printed once")
    madd.add_argument("--store", required=True, type=UUID)
    madd.add_argument("--name", required=True)
    madd.add_argument("--role", required=True, choices=access.ROLES,
                      help="viewer: read; member: +write; admin: +delete, export, settings; "
                      "owner: +erase")
    member.add_parser("list", help="a store's members (never their tokens)").add_argument(
        "--store", required=True, type=UUID)
    member.add_parser("revoke", help="revoke a member's token").add_argument("member",
                                                                            type=UUID)
    for action in member.choices.values():
        action.set_defaults(fn=cmd_member)

    # Each feature adds its own subcommands.
    groups = {"store": store, "key": key, "member": member}
    for module in registry.COMMANDS:
        importlib.import_module(module).commands(sub, groups)

    runp = sub.add_parser("run", help="run services (all by default)")
    runp.add_argument("services", nargs="*", metavar="SERVICE",
                      help=f"any of: {', '.join(registry.APPS)}")
    runp.set_defaults(fn=cmd_run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = Settings()
    configure_logging(settings)
    fn: Handler = args.fn
    return asyncio.run(execute(fn, settings, args))


if __name__ == "__main__":
    sys.exit(main())

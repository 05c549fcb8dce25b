"""`clients erasure request|list|cancel` (as a member with clients:erase, like `/v1`), and
`clients compliance ruo` (an operator's command, like `clients member add`: the store's RUO
attestation text, version and validity window; without --text it prints the current ones)."""

import argparse
import os
from typing import Any
from uuid import UUID

import asyncpg

from schemas.privacy import RuoSettings
from services.edge import privacy
from services.edge.commands import as_member
from shared.access import ERASE
from shared.cli import SubParsers, UsageError, with_pool
from shared.db import Pool
from shared.settings import Settings


def commands(sub: SubParsers, groups: dict[str, SubParsers]) -> None:
    erasure = sub.add_parser("erasure", help="erasure requests, as a member with clients:erase "
                             "(--token or CLIENTS_TOKEN)").add_subparsers(dest="action",
                                                                          required=True)
    request = erasure.add_parser("request", help="archive a client now, erase it after the "
                                 "cool-off (ERASURE_COOL_OFF_S)")
    request.add_argument("client", type=UUID)
    request.add_argument("--reason", required=True)
    request.add_argument("--command-id", help="idempotency key (default: a new one)")
    listing = erasure.add_parser("list", help="the store's requests, newest first")
    listing.add_argument("--status", choices=["pending", "cancelled", "done"])
    listing.add_argument("--limit", type=int, default=20)
    cancel = erasure.add_parser("cancel", help="cancel a pending request before it is due "
                                "(the client stays archived)")
    cancel.add_argument("erasure", type=UUID)
    cancel.add_argument("--command-id", help="idempotency key (default: a new one)")
    for p in (request, listing, cancel):
        p.add_argument("--token", default=os.environ.get("CLIENTS_TOKEN"),
                       help="a member's pck_usr_ token (default: $CLIENTS_TOKEN)")
        p.set_defaults(fn=cmd_erasure)

    compliance = sub.add_parser("compliance", help="a store's compliance settings"
                                ).add_subparsers(dest="action", required=True)
    ruo = compliance.add_parser("ruo", help="the RUO attestation: text, version, validity")
    ruo.add_argument("--store", required=True, type=UUID)
    ruo.add_argument("--text", help="the text shown to the client (omit to print the current)")
    ruo.add_argument("--version", type=int)
    ruo.add_argument("--validity-days", type=int)
    ruo.set_defaults(fn=cmd_ruo)


async def cmd_erasure(settings: Settings, args: argparse.Namespace) -> Any:
    async with as_member(settings, args.token, ERASE, publishes=args.action != "list"
                         ) as (deps, who):
        if args.action == "list":
            if args.limit not in range(1, 101):
                raise UsageError("--limit must be 1 to 100")
            found = await privacy.list_erasures(deps.pool, who.store_id, args.status,
                                                args.limit)
            return found.model_dump(mode="json")
        if args.action == "request":
            status, answer = await privacy.erasure_command(
                deps, who, "request_erasure", args.command_id, client_id=args.client,
                reason=args.reason)
        else:
            status, answer = await privacy.cancel_erasure(deps, who, args.erasure,
                                                          args.command_id)
        print(answer.model_dump_json(indent=2) if hasattr(answer, "model_dump_json")
               else str(answer))
        return 0 if status in (200, 201, 202) else 1


async def cmd_ruo(settings: Settings, args: argparse.Namespace) -> Any:
    async def go(pool: Pool) -> Any:
        if args.text is None:
            if args.version is not None or args.validity_days is not None:
                raise UsageError("give --text with --version and --validity-days")
            current = await privacy.ruo_settings(pool, args.store)
            if current is None:
                raise LookupError("no RUO settings for this store")
            return current.model_dump(mode="json")
        if args.version is None or args.validity_days is None:
            raise UsageError("give --version and --validity-days with --text")
        given = RuoSettings(text=args.text, version=args.version,
                            validity_days=args.validity_days)
        try:
            saved = await privacy.set_ruo_settings(pool, args.store, given, settings.now())
        except asyncpg.ForeignKeyViolationError as e:
            raise LookupError(f"no store {args.store}") from e
        return saved.model_dump(mode="json")
    return await with_pool(settings, go)

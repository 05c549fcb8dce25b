"""`clients client get|list|timeline|audit|export|update|tag|archive|restore|merge|notes|note`:
the clients API from the command line, as a member (`--token` or CLIENTS_TOKEN), so scopes
apply and the audit names the member. The same reads and commands as `/v1` (reads.py,
client_commands.py): writes need the commands service running, as they do over HTTP."""

import argparse
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ValidationError

from schemas.api import MAX_LIMIT
from schemas.profiles import PROFILE_FIELDS
from services.edge import client_commands, privacy, reads
from services.edge.export import export_csv
from shared.access import DELETE, EXPORT, READ, WRITE, Principal, authenticate_token, require
from shared.cli import SubParsers, UsageError
from shared.normalize import field_errors
from shared.resources import Deps, open_deps
from shared.settings import Settings

SCOPE_OF = {"get": READ, "list": READ, "timeline": READ, "audit": READ, "export": EXPORT,
            "update": WRITE, "tag": WRITE, "archive": DELETE, "restore": DELETE,
            "merge": WRITE, "notes": READ, "note": WRITE, "contacts": READ, "prices": READ,
            "master-data": READ}
UPDATABLE = ("name", "first_name", "last_name", "email", "phone", "company", "notes", "type",
             "status", "credit_limit", "accepts_marketing", *PROFILE_FIELDS)


def commands(sub: SubParsers, groups: dict[str, SubParsers]) -> None:
    client = sub.add_parser("client", help="a store's clients, as a member (--token or "
                            "CLIENTS_TOKEN)").add_subparsers(dest="action", required=True)
    parsers = {
        "get": client.add_parser("get", help="one client"),
        "list": client.add_parser("list", help="clients, filtered and sorted, one page"),
        "timeline": client.add_parser("timeline", help="touches, messages and changes"),
        "audit": client.add_parser("audit", help="who changed what, when"),
        "export": client.add_parser("export", help="the filter as CSV (importer's columns); "
                                    "with a client id, everything held about that person "
                                    "as one JSON bundle (subject access, audited)"),
        "update": client.add_parser("update", help="change fields: --set f=v, --clear f"),
        "tag": client.add_parser("tag", help="add or remove tags (several ids: in bulk)"),
        "archive": client.add_parser("archive", help="archive (the soft delete)"),
        "restore": client.add_parser("restore", help="restore an archived client"),
        "notes": client.add_parser("notes", help="the notes log, newest first"),
        "note": client.add_parser("note", help="add a note to the notes log"),
        "contacts": client.add_parser("contacts", help="the account's contacts (B2B)"),
        "prices": client.add_parser("prices", help="the client's price overrides"),
        "master-data": client.add_parser("master-data", help="the store's customer types, "
                                         "customer segments or brokers; --in-use ID: how many "
                                         "clients use one"),
        "merge": client.add_parser("merge", help="merge SECONDARY into PRIMARY (the secondary "
                                   "is archived; its rows move to the primary)"),
    }
    for action, p in parsers.items():
        p.add_argument("--token", default=os.environ.get("CLIENTS_TOKEN"),
                       help="a member's pck_usr_ token (default: $CLIENTS_TOKEN)")
        if action in ("get", "timeline", "audit", "update", "archive", "restore", "notes",
                      "note", "contacts", "prices"):
            p.add_argument("client", type=UUID)
        if action == "note":
            p.add_argument("text")
        if action == "master-data":
            p.add_argument("kind", choices=["customer_type", "customer_segment", "broker"])
            p.add_argument("--in-use", type=UUID, metavar="ID")
        if action == "merge":
            p.add_argument("client", type=UUID, metavar="PRIMARY")
            p.add_argument("secondary", type=UUID, metavar="SECONDARY")
        if action in ("update", "tag", "archive", "restore", "merge", "note"):
            p.add_argument("--expected-version", type=int)
            p.add_argument("--command-id", help="idempotency key (default: a new one)")
        p.set_defaults(fn=cmd_client)
    for p in (parsers["list"], parsers["export"]):
        p.add_argument("--q", help="substring of name, email, phone digits, company")
        p.add_argument("--tags", help="comma-separated: clients with all of them")
        p.add_argument("--type", choices=["retail", "wholesale"])
        p.add_argument("--status", choices=["ACTIVE", "BLOCKED"])
        p.add_argument("--source", help="source label")
        p.add_argument("--archived", action="store_true", help="the archived clients")
        p.add_argument("--segment", choices=["new", "returning", "loyal", "vip", "at_risk"])
        p.add_argument("--vip", action="store_true", help="the VIP clients")
        p.add_argument("--accepts-marketing", choices=["true", "false"])
    for p in (parsers["list"], parsers["timeline"], parsers["audit"]):
        p.add_argument("--limit", type=int, default=20)
        p.add_argument("--cursor", help="the `next` of the page before")
    parsers["list"].add_argument("--sort", default="-updated_at",
                                 choices=["-updated_at", "updated_at", "name", "-name",
                                          "created_at", "-created_at"])
    parsers["export"].add_argument("client", type=UUID, nargs="?",
                                   help="a client: its subject-access bundle instead")
    parsers["export"].add_argument("--out", type=Path, help="file to write (default: stdout)")
    parsers["update"].add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                                   help=f"one of {', '.join(UPDATABLE)}")
    parsers["update"].add_argument("--clear", action="append", default=[], metavar="FIELD")
    parsers["tag"].add_argument("clients", type=UUID, nargs="+")
    parsers["tag"].add_argument("--add", default="", help="comma-separated")
    parsers["tag"].add_argument("--remove", default="", help="comma-separated")


@asynccontextmanager
async def as_member(settings: Settings, token: str | None, scope: str,
                    publishes: bool | None = None) -> AsyncIterator[tuple[Deps, Principal]]:
    """The deps and the member the token is; refused without `scope`. `publishes` (default:
    the scope writes) starts the producer."""
    if not token:
        raise UsageError("give --token or set CLIENTS_TOKEN (a member's pck_usr_ token)")
    async with open_deps(settings) as deps:
        principal = await authenticate_token(deps.pool, token)
        if principal is None:
            raise PermissionError("unknown or revoked token")
        require(principal, scope)
        if publishes if publishes is not None else scope in (WRITE, DELETE):
            await deps.producer.start()
        yield deps, principal


def _dump(model: BaseModel | None) -> Any:
    if model is None:
        raise LookupError("no such client")
    return model.model_dump(mode="json")


async def cmd_client(settings: Settings, args: argparse.Namespace) -> Any:
    if getattr(args, "limit", 1) not in range(1, MAX_LIMIT + 1):
        raise UsageError(f"--limit must be 1 to {MAX_LIMIT}")
    async with as_member(settings, args.token, SCOPE_OF[args.action]) as (deps, who):
        try:
            return await _ACTIONS[args.action](deps, who, args)
        except reads.BadQueryError as e:
            raise ValueError(f"{e.field}: {e}") from e
        except ValidationError as e:
            raise ValueError("; ".join(f"{f.field}: {f.message}" for f in field_errors(e))
                             ) from e


def _query(args: argparse.Namespace) -> reads.ClientQuery:
    consent = args.accepts_marketing
    return reads.ClientQuery(q=args.q, tags=reads.tag_list(args.tags), type=args.type,
                             status=args.status, source=args.source, archived=args.archived,
                             segment=args.segment, vip=True if args.vip else None,
                             accepts_marketing=None if consent is None else consent == "true",
                             sort=getattr(args, "sort", "-updated_at"))


async def _get(deps: Deps, who: Principal, args: argparse.Namespace) -> Any:
    return _dump(await reads.get_client(deps.read_pool, who.store_id, args.client))


async def _list(deps: Deps, who: Principal, args: argparse.Namespace) -> Any:
    return _dump(await reads.list_clients(deps.read_pool, who.store_id, _query(args),
                                          args.limit, args.cursor))


async def _timeline(deps: Deps, who: Principal, args: argparse.Namespace) -> Any:
    return _dump(await reads.timeline(deps.read_pool, who.store_id, args.client, args.limit,
                                      args.cursor))


async def _notes(deps: Deps, who: Principal, args: argparse.Namespace) -> Any:
    return _dump(await reads.notes(deps.read_pool, who.store_id, args.client, 500))


async def _contacts(deps: Deps, who: Principal, args: argparse.Namespace) -> Any:
    return _dump(await reads.contacts(deps.read_pool, who.store_id, args.client))


async def _prices(deps: Deps, who: Principal, args: argparse.Namespace) -> Any:
    return _dump(await reads.price_overrides(deps.read_pool, who.store_id, args.client))


async def _master_data(deps: Deps, who: Principal, args: argparse.Namespace) -> Any:
    if args.in_use is not None:
        return _dump(await reads.in_use(deps.read_pool, who.store_id, args.kind, args.in_use))
    return _dump(await reads.master_data(deps.read_pool, who.store_id, args.kind))


async def _note(deps: Deps, who: Principal, args: argparse.Namespace) -> Any:
    return await _send(deps, who, args, "add_note", client_id=args.client,
                       note_text=args.text)


async def _audit(deps: Deps, who: Principal, args: argparse.Namespace) -> Any:
    return _dump(await reads.audit(deps.read_pool, who.store_id, args.client, args.limit,
                                   args.cursor))


async def _export(deps: Deps, who: Principal, args: argparse.Namespace) -> Any:
    bundle = None
    if args.client is not None:
        try:
            bundle = await privacy.bundle(deps, who, args.client)
        except privacy.NotFoundError as e:
            raise LookupError("no such client") from e
    out = args.out.open("wb") if args.out else sys.stdout.buffer
    try:
        if bundle is not None:
            out.write(bundle.model_dump_json(indent=2).encode() + b"\n")
            return None
        async for chunk in export_csv(deps.read_pool, who.store_id, _query(args)):
            out.write(chunk)
    finally:
        if args.out:
            out.close()
    return None


async def _send(deps: Deps, who: Principal, args: argparse.Namespace, action: str,
                **fields: Any) -> int:
    command = client_commands.command(who, action, args.command_id,
                                      expected_version=args.expected_version, **fields)
    status, answer = await client_commands.send(deps, command)
    print(answer.model_dump_json(indent=2))
    return 0 if status in (200, 202) else 1


async def _update(deps: Deps, who: Principal, args: argparse.Namespace) -> Any:
    changes: dict[str, Any] = {}
    for item in args.set:
        field, sep, value = item.partition("=")
        if not sep or field not in UPDATABLE:
            raise UsageError(f"--set {item!r}: FIELD=VALUE with FIELD one of "
                             f"{', '.join(UPDATABLE)}")
        changes[field] = value
    for field in args.clear:
        if field not in UPDATABLE:
            raise UsageError(f"--clear {field!r}: one of {', '.join(UPDATABLE)}")
        changes[field] = None
    if not changes:
        raise UsageError("nothing to change: give --set or --clear")
    return await _send(deps, who, args, "update", client_id=args.client, changes=changes)


async def _tag(deps: Deps, who: Principal, args: argparse.Namespace) -> Any:
    add = [t for t in args.add.split(",") if t.strip()]
    remove = [t for t in args.remove.split(",") if t.strip()]
    if len(args.clients) == 1:
        return await _send(deps, who, args, "tag", client_id=args.clients[0], add=add,
                           remove=remove)
    if args.expected_version is not None:
        raise UsageError("--expected-version is for one client")
    return await _send(deps, who, args, "bulk_tag", client_ids=args.clients, add=add,
                       remove=remove)


async def _archive(deps: Deps, who: Principal, args: argparse.Namespace) -> Any:
    return await _send(deps, who, args, "archive", client_id=args.client)


async def _restore(deps: Deps, who: Principal, args: argparse.Namespace) -> Any:
    return await _send(deps, who, args, "restore", client_id=args.client)


async def _merge(deps: Deps, who: Principal, args: argparse.Namespace) -> Any:
    return await _send(deps, who, args, "merge", client_id=args.client,
                       secondary_id=args.secondary)


_ACTIONS: dict[str, Callable[[Deps, Principal, argparse.Namespace], Awaitable[Any]]] = {
    "get": _get, "list": _list, "timeline": _timeline, "audit": _audit, "export": _export,
    "update": _update, "tag": _tag, "archive": _archive, "restore": _restore,
    "merge": _merge, "notes": _notes, "note": _note, "contacts": _contacts, "prices": _prices,
    "master-data": _master_data}

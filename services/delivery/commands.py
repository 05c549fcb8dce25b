"""`clients store channels …`, `clients inbox --store ID`, `clients inbox thread ID`."""

import argparse
from typing import Any
from uuid import UUID

from services.delivery import inbox_reads
from shared.cli import SubParsers, UsageError, with_pool
from shared.settings import Settings


def commands(sub: SubParsers, groups: dict[str, SubParsers]) -> None:
    channels = groups["store"].add_parser(
        "channels", help="the store's SMS number and email address (sending from them; "
        "inbound to them belongs to the store)")
    channels.add_argument("--store", required=True, type=UUID)
    channels.add_argument("--sms-number", help="the store's SendBlue number")
    channels.add_argument("--email-address", help="the store's sending/receiving address")
    channels.set_defaults(fn=cmd_store_channels)

    box = sub.add_parser("inbox", help="a store's threads (newest activity first, unread "
                         "counts); or: inbox thread ID (its messages, oldest first)")
    box.add_argument("target", nargs="*", metavar="thread THREAD_ID")
    box.add_argument("--store", type=UUID)
    box.add_argument("--limit", type=int, default=100)
    box.set_defaults(fn=cmd_inbox)


async def cmd_store_channels(settings: Settings, args: argparse.Namespace) -> Any:
    return await with_pool(settings, lambda p: inbox_reads.set_channels(
        p, args.store, args.sms_number, args.email_address))


async def cmd_inbox(settings: Settings, args: argparse.Namespace) -> Any:
    target = args.target
    if len(target) == 2 and target[0] == "thread":
        thread_id = UUID(target[1])
        return await with_pool(settings, lambda p: inbox_reads.thread(p, thread_id, args.store))
    if not target and args.store is not None:
        return await with_pool(settings, lambda p: inbox_reads.threads(p, args.store,
                                                                       args.limit))
    raise UsageError("clients inbox --store ID | clients inbox thread THREAD_ID [--store ID]")

"""`clients webhook add|list|disable|enable|rotate-secret|replay|deliveries|attempts`."""

import argparse
from datetime import datetime
from typing import Any
from uuid import UUID

from services.webhooks import endpoints as webhooks
from shared.cli import SubParsers, with_pool
from shared.db import Pool
from shared.settings import Settings


def commands(sub: SubParsers, groups: dict[str, SubParsers]) -> None:
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
    for parser in hook.choices.values():
        parser.set_defaults(fn=cmd_webhook)


async def cmd_webhook(settings: Settings, args: argparse.Namespace) -> Any:
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
    return await with_pool(settings, go)

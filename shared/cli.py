"""What every feature's subcommands share: a pool for the command, JSON out, one way to fail.

A feature adds its subcommands with a `commands(sub, groups)` function in a module that
services/registry.py lists (COMMANDS); `services/cli.py` only builds the root parser, calls them,
and runs the chosen command through `execute`.
"""

import argparse
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from shared.db import Pool, create_pool
from shared.settings import Settings

# What a user can cause (a bad value, an unknown id, an unreadable file): "error: …", exit 1.
USER_ERRORS: tuple[type[Exception], ...] = (ValueError, LookupError, OSError)

Handler = Callable[[Settings, argparse.Namespace], Awaitable[Any]]
SubParsers = Any  # argparse's _SubParsersAction, which it does not export


class UsageError(Exception):
    """Arguments that do not fit together: the usage line, exit 2."""


def print_json(obj: Any) -> None:
    print(json.dumps(obj, default=str, indent=2))


async def with_pool(settings: Settings, fn: Callable[[Pool], Awaitable[Any]]) -> Any:
    pool = await create_pool(settings)
    try:
        return await fn(pool)
    finally:
        await pool.close()


async def execute(fn: Handler, settings: Settings, args: argparse.Namespace) -> int:
    """Run a command: what it returns is printed as JSON (an int is its exit code; None prints
    nothing); a user error is one line on stderr."""
    try:
        result = await fn(settings, args)
    except UsageError as e:
        print(f"usage: {e}", file=sys.stderr)
        return 2
    except USER_ERRORS as e:
        print(f"error: {e}", file=sys.stderr)
        return getattr(e, "exit_code", 1)
    if isinstance(result, int) and not isinstance(result, bool):
        return result
    if result is not None:
        print_json(result)
    return 0

"""Every service `clients run` knows, and every module that adds `clients` subcommands, by name.

A service is imported only to run it. Importing every service to build the command line (FastAPI
and the edge's routes, each worker's handlers and loops) made `clients --help` take 1.6 s and
every command pay it (`python -X importtime -m services.cli --help`); now the command line
imports the modules that add subcommands (0.37-0.47 s), and `clients run X` the services it runs.
"""

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shared.runner import Service

# name -> the module whose SERVICE it is
APPS = {
    "edge": "services.edge.app",
    "ingest": "services.ingest.app",
    "upsert": "services.upsert.app",
    "imports": "services.imports.app",
    "relay": "services.relay.app",
    "webhooks": "services.webhooks.app",
    "delivery": "services.delivery.app",
    "commands": "services.commands.app",
    "eraser": "services.eraser.app",
    "attestations": "services.attestations.app",
    "orders": "services.orders.app",
}

# Modules with a `commands(sub, groups)` that adds a feature's subcommands (shared/cli.py).
COMMANDS = (
    "services.edge.commands",
    "services.edge.privacy_cli",
    "services.imports.commands",
    "services.webhooks.commands",
    "services.delivery.commands",
)


def service(name: str) -> "Service":
    found: Service = importlib.import_module(APPS[name]).SERVICE
    return found

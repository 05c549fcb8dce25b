"""Every service `clients run` knows, by name. The one place that imports all of them."""

from services.attestations.app import SERVICE as ATTESTATIONS
from services.commands.app import SERVICE as COMMANDS
from services.delivery.app import SERVICE as DELIVERY
from services.edge.app import SERVICE as EDGE
from services.eraser.app import SERVICE as ERASER
from services.imports.app import SERVICE as IMPORTS
from services.ingest.app import SERVICE as INGEST
from services.orders.app import SERVICE as ORDERS
from services.relay.app import SERVICE as RELAY
from services.upsert.app import SERVICE as UPSERT
from services.webhooks.app import SERVICE as WEBHOOKS
from shared.runner import Service

SERVICES: dict[str, Service] = {s.name: s for s in (EDGE, INGEST, UPSERT, IMPORTS, RELAY,
                                                      WEBHOOKS, DELIVERY, COMMANDS, ERASER,
                                                      ATTESTATIONS, ORDERS)}

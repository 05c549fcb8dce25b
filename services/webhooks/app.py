"""Webhook fan-out: client events to subscribers' endpoints, signed, retried, never lost."""
from services.webhooks.dispatch import run_dispatcher
from services.webhooks.handlers import router
from shared.runner import Service

SERVICE = Service("webhooks", routers=lambda deps: [router(deps)], background=run_dispatcher)

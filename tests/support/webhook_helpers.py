"""Webhook test support: the service in-process with test settings, and client events."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from schemas.events import ClientEvent, EventType
from services.registry import service
from shared.runner import run
from shared.settings import Settings
from shared.topics import EVENTS
from tests.support.kafka_helpers import fast_forward, produce


def hooks_settings(settings: Settings, **overrides: object) -> Settings:
    """Loopback allowed (the local receiver), fast retries without jitter, short stop."""
    return settings.model_copy(update={
        "group_prefix": f"test-{uuid.uuid4().hex[:8]}-",
        "webhook_allowed_networks": ["127.0.0.1/32"],
        "webhook_retry_schedule_s": [0.2, 0.4, 0.4, 0.4],
        "webhook_retry_jitter": 0.0,
        "graceful_timeout_s": 2.0,
        **overrides})


@asynccontextmanager
async def running_webhooks(settings: Settings, *, from_now: bool = True
                           ) -> AsyncIterator[Settings]:
    """The webhooks service (consumer + dispatcher) until the block ends."""
    if from_now:
        await fast_forward(settings.kafka_bootstrap_servers,
                           settings.group_prefix + "webhooks", [EVENTS])
    stop = asyncio.Event()
    task = asyncio.create_task(run(settings, [service("webhooks")], stop))
    try:
        yield settings
    finally:
        stop.set()
        await task


def client_event(store_id: uuid.UUID, kind: EventType = "client.created",
                 email: str | None = None) -> ClientEvent:
    now = datetime.now(UTC)
    client_id = uuid.uuid4()
    return ClientEvent.model_validate({
        "id": uuid.uuid4(), "type": kind, "occurred_at": now, "store_id": store_id,
        "client": {"id": client_id, "store_id": store_id, "name": "Hook Person",
                   "first_name": "Hook", "last_name": "Person",
                   "email": email or f"{client_id.hex[:10]}@hooks.example",
                   "phone": None, "company": None, "type": "retail", "tags": [],
                   "notes": None, "external_ids": {}, "source_label": "test",
                   "source_external_id": None, "source_integration_key_id": None,
                   "created_at": now, "updated_at": now, "version": 1, "status": "ACTIVE",
                   "credit_limit": None}})


async def publish_events(settings: Settings, events: list[ClientEvent]) -> None:
    await produce(settings.kafka_bootstrap_servers, EVENTS,
                  [e.model_dump(mode="json") for e in events],
                  keys=[str(e.client.id) for e in events])

"""Messaging test support: the services with their providers pointed at the local fakes,
stores with channels, clients, and signed callbacks."""

import asyncio
import random
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from svix.webhooks import Webhook as SvixWebhook

from schemas.upsert import UpsertCommand
from services.delivery import inbox_reads
from services.registry import service
from shared import stores
from shared.db import Pool
from shared.normalize import email_key
from shared.resolver import resolve_batch
from shared.runner import run
from shared.settings import Settings
from shared.topics import DELIVERY_CALLBACKS, INBOX_COMMANDS, MESSAGES_OUTBOUND
from tests.conftest import free_port, until_healthy
from tests.support import fake_providers as fp
from tests.support.kafka_helpers import fast_forward, produce

RESEND_WEBHOOK_SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


CALLBACK_URL_SECRET = "callback-url-secret-test"


@dataclass(frozen=True)
class Messaging:
    settings: Settings
    base_url: str   # the edge


@asynccontextmanager
async def running_messaging(settings: Settings, fake: fp.FakeProviders,
                            **overrides: object) -> AsyncIterator[Messaging]:
    port = free_port()
    s = settings.model_copy(update={
        "group_prefix": f"test-{uuid.uuid4().hex[:8]}-", "http_port": port,
        "sendblue_api_url": fake.base_url, "sendblue_api_key_id": fp.SENDBLUE_KEY_ID,
        "sendblue_api_secret_key": fp.SENDBLUE_SECRET,
        "sendblue_signing_secret": fp.SENDBLUE_SIGNING_SECRET,
        "callback_url_secret": CALLBACK_URL_SECRET,
        "resend_api_url": fake.base_url, "resend_api_key": fp.RESEND_KEY,
        "resend_webhook_secret": RESEND_WEBHOOK_SECRET,
        "public_base_url": f"http://127.0.0.1:{port}",
        "send_backoff_initial_s": 0.05, "send_backoff_max_s": 0.2, "send_max_attempts": 4,
        "graceful_timeout_s": 3.0, **overrides})
    await fast_forward(s.kafka_bootstrap_servers, s.group_prefix + "delivery",
                       [MESSAGES_OUTBOUND, DELIVERY_CALLBACKS, INBOX_COMMANDS])
    stop = asyncio.Event()
    task = asyncio.create_task(run(s, [service(n) for n in ("edge", "delivery", "relay")],
                                   stop))
    base = f"http://127.0.0.1:{port}"
    await until_healthy(task, base)
    try:
        yield Messaging(s, base)
    finally:
        stop.set()
        await task


def a_number() -> str:
    """A possible US number (555 exchange) unlikely to be taken by an earlier run."""
    area = random.choice(["415", "628", "510", "650", "707", "925"])  # noqa: S311
    return f"+1{area}555{random.randrange(10**4):04d}"  # noqa: S311


async def store_with_channels(pool: Pool) -> tuple[stores.Store, str, str]:
    store = await stores.create_store(pool, f"messaging {uuid.uuid4().hex[:6]}")
    for _ in range(20):  # numbers are unique across stores
        number = a_number()
        try:
            await inbox_reads.set_channels(pool, store.id, number, None)
            break
        except ValueError:
            continue
    address = f"shop-{uuid.uuid4().hex[:8]}@shop.example"
    await inbox_reads.set_channels(pool, store.id, None, address)
    return store, number, address


async def a_client(pool: Pool, store_id: uuid.UUID, *, phone: str | None = None,
                   email: str | None = None, name: str = "Mia Client") -> uuid.UUID:
    phone = phone or a_number()
    email = email or f"mia.{uuid.uuid4().hex[:8]}@mail.example"
    (result,) = await resolve_batch(pool, [UpsertCommand(
        request_id=uuid.uuid4().hex, store_id=store_id, source_label="test", phone=phone,
        email=email, email_key=email_key(email), name=name, received_at=datetime.now(UTC))])
    assert result.client_id is not None, result
    return result.client_id


async def send(settings: Settings, *messages: dict[str, Any]) -> None:
    await produce(settings.kafka_bootstrap_servers, MESSAGES_OUTBOUND,
                  [{k: str(v) if isinstance(v, uuid.UUID) else v for k, v in m.items()}
                   for m in messages], keys=[str(m["message_id"]) for m in messages])


async def command(settings: Settings, **fields: Any) -> None:
    body = {k: str(v) if isinstance(v, uuid.UUID) else v for k, v in fields.items()}
    await produce(settings.kafka_bootstrap_servers, INBOX_COMMANDS, [body],
                  keys=[str(fields["thread_id"])])


def svix_headers(body: str, secret: str = RESEND_WEBHOOK_SECRET,
                 at: datetime | None = None, msg_id: str | None = None) -> dict[str, str]:
    """Signed the way Resend signs: with the svix library."""
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    at = at or datetime.now(UTC)
    return {"svix-id": msg_id, "svix-timestamp": str(int(at.timestamp())),
            "svix-signature": SvixWebhook(secret).sign(msg_id, at, body),
            "content-type": "application/json"}


def stale() -> datetime:
    return datetime.now(UTC) - timedelta(minutes=10)


async def message_row(pool: Pool, message_id: uuid.UUID) -> dict[str, Any] | None:
    row = await pool.fetchrow("SELECT * FROM messages WHERE id = $1", message_id)
    return dict(row) if row is not None else None

"""Deliveries: recorded from client events before any attempt, and settled after each one."""

import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

import structlog

from schemas.events import ClientErased, ClientEvent
from schemas.webhooks import EndpointDisabled, ErasedClient, WebhookPayload
from services.webhooks import sql
from services.webhooks.http import Attempt
from shared.db import Pool
from shared.erasure import erase_webhook_copies
from shared.notify import notify
from shared.outbox import add_messages
from shared.settings import Settings
from shared.topics import WEBHOOK_EVENTS

log = structlog.get_logger(__name__)

# A Retry-After is honoured up to a day; beyond that the schedule decides.
MAX_RETRY_AFTER_S = 86400.0


def body_of(event: ClientEvent | ClientErased) -> str:
    """The exact bytes every endpoint gets for this event (and that are signed)."""
    data = (ErasedClient(id=event.client_id) if isinstance(event, ClientErased)
            else event.client)
    return WebhookPayload(type=event.type, timestamp=event.occurred_at,
                          data=data).model_dump_json()


def client_of(event: ClientEvent | ClientErased) -> UUID:
    return event.client_id if isinstance(event, ClientErased) else event.client.id


async def record_deliveries(pool: Pool, events: Sequence[ClientEvent | ClientErased]) -> int:
    """One delivery per subscribed endpoint and event, in one statement; wakes the
    dispatchers. Returns how many deliveries are new (a redelivered event makes none)."""
    if not events:
        return 0
    async with pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(sql.RECORD, [e.id for e in events],
                                [e.store_id for e in events], [e.type for e in events],
                                [body_of(e) for e in events],
                                [client_of(e) for e in events])
        # what reached us of an erased client after the eraser ran goes too
        for e in events:
            if isinstance(e, ClientErased):
                await erase_webhook_copies(conn, e.client_id)
        if any(r["state"] == "pending" for r in rows):
            await notify(conn, sql.WAKE_CHANNEL)
    return len(rows)


@dataclass(frozen=True)
class Claimed:
    id: int
    endpoint_id: UUID
    event_id: UUID
    tries: int
    url: str
    secrets: list[str]
    body: str


@dataclass(frozen=True)
class Outcome:
    state: str          # pending (retry after delay_s) | succeeded | failed
    tries: int
    delay_s: float | None


def decide(tries_before: int, attempt: Attempt, settings: Settings) -> Outcome:
    """Success ends the delivery; 410 and a spent schedule fail it; anything else retries
    after the schedule's next step (with jitter), and never sooner than a Retry-After asks."""
    tries = tries_before + 1
    if attempt.ok:
        return Outcome("succeeded", tries, None)
    schedule = settings.webhook_retry_schedule_s
    if attempt.status_code == 410 or tries > len(schedule):
        return Outcome("failed", tries, None)
    jitter = settings.webhook_retry_jitter
    delay = schedule[tries - 1] * random.uniform(1 - jitter, 1 + jitter)  # noqa: S311
    if attempt.retry_after_s is not None:
        delay = max(delay, min(attempt.retry_after_s, MAX_RETRY_AFTER_S))
    return Outcome("pending", tries, delay)


async def settle(pool: Pool, settings: Settings,
                 done: Sequence[tuple[Claimed, Attempt]]) -> list[Outcome]:
    """Record a batch of attempts in one transaction: the log, each delivery's new state,
    endpoint health; disable endpoints that answered 410 or failed for the whole window
    (publishing webhook.endpoint_disabled through the outbox)."""
    outcomes = [decide(c.tries, a, settings) for c, a in done]
    health: dict[UUID, tuple[datetime | None, datetime | None]] = {}
    for c, a in done:
        success, failure = health.get(c.endpoint_id, (None, None))
        if a.ok:
            success = max(success or a.at, a.at)
        else:
            failure = min(failure or a.at, a.at)
        health[c.endpoint_id] = (success, failure)
    gone = list({c.endpoint_id for c, a in done if a.status_code == 410})
    failing = [e for e, (_, failure) in health.items() if failure is not None]
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(sql.LOCK_ENDPOINTS, list(health))
        await conn.execute(
            sql.FINISH, [c.id for c, _ in done], [o.state for o in outcomes],
            [o.tries for o in outcomes], [o.delay_s for o in outcomes],
            [a.error for _, a in done], [a.at for _, a in done],
            [a.status_code for _, a in done], [a.latency_ms for _, a in done],
            [a.response for _, a in done])
        await conn.execute(sql.HEALTH, list(health), [h[0] for h in health.values()],
                           [h[1] for h in health.values()])
        if not gone and not failing:
            return outcomes
        rows = await conn.fetch(sql.DISABLE_UNHEALTHY, gone, failing,
                                settings.webhook_disable_after_s)
        if not rows:
            return outcomes
        now = datetime.now(UTC)
        disabled = [EndpointDisabled(id=uuid.uuid4(), occurred_at=now, store_id=r["store_id"],
                                     endpoint_id=r["id"], url=r["url"],
                                     reason=r["disabled_reason"]) for r in rows]
        await conn.execute(sql.FAIL_PENDING, [d.endpoint_id for d in disabled])
        await add_messages(conn, WEBHOOK_EVENTS,
                           [(d.id, str(d.endpoint_id), d) for d in disabled])
    for d in disabled:
        log.warning("webhook endpoint disabled", endpoint_id=str(d.endpoint_id),
                    store_id=str(d.store_id), reason=d.reason)
    return outcomes

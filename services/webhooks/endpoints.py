"""Endpoint administration (the `clients webhook …` commands)."""

import base64
import secrets
import uuid
from datetime import datetime
from typing import Any, get_args
from uuid import UUID

import asyncpg

from schemas.events import EventType
from services.webhooks import sql
from services.webhooks.errors import DeliveryNotFoundError, EndpointNotFoundError
from services.webhooks.guard import check_url, networks
from shared.db import Pool
from shared.notify import notify
from shared.settings import Settings
from shared.stores import StoreNotFoundError

EVENT_TYPES: tuple[str, ...] = get_args(EventType)


def new_secret() -> str:
    """Standard Webhooks: `whsec_` + base64 of random bytes (32; the spec asks >= 24)."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


async def add_endpoint(pool: Pool, settings: Settings, store_id: UUID, url: str,
                       event_types: list[str]) -> dict[str, Any]:
    unknown = sorted(set(event_types) - set(EVENT_TYPES))
    if unknown:
        raise ValueError(f"unknown event type(s) {unknown}; known: {list(EVENT_TYPES)}")
    await check_url(url, networks(settings.webhook_allowed_networks))
    endpoint_id, secret = uuid.uuid4(), new_secret()
    try:
        await pool.execute(sql.INSERT_ENDPOINT, endpoint_id, store_id, url,
                           sorted(set(event_types)), secret)
    except asyncpg.ForeignKeyViolationError as e:
        raise StoreNotFoundError(store_id) from e
    return {"id": endpoint_id, "secret": secret}


async def list_endpoints(pool: Pool, store_id: UUID) -> list[dict[str, Any]]:
    return [dict(r) for r in await pool.fetch(sql.LIST_ENDPOINTS, store_id)]


async def set_enabled(pool: Pool, endpoint_id: UUID, enabled: bool) -> None:
    """Disabling keeps the endpoint's pending deliveries (as failed) for a later replay;
    enabling starts it afresh (no failing streak) and sends what arrives from now on."""
    async with pool.acquire() as conn, conn.transaction():
        found = await conn.fetchval(sql.ENABLE if enabled else sql.DISABLE, endpoint_id)
        if found is None:
            raise EndpointNotFoundError(endpoint_id)
        if not enabled:
            await conn.execute(sql.FAIL_PENDING, [endpoint_id])


async def rotate_secret(pool: Pool, settings: Settings, endpoint_id: UUID) -> dict[str, Any]:
    """A new secret; the old one keeps signing beside it for `webhook_secret_overlap_s`."""
    secret = new_secret()
    if await pool.fetchval(sql.ROTATE, endpoint_id, secret,
                           settings.webhook_secret_overlap_s) is None:
        raise EndpointNotFoundError(endpoint_id)
    return {"id": endpoint_id, "secret": secret}


async def replay_failed(pool: Pool, endpoint_id: UUID, since: datetime) -> int:
    """Every failed delivery of the endpoint recorded since `since`, sent again."""
    async with pool.acquire() as conn, conn.transaction():
        disabled = await conn.fetchval(sql.ENDPOINT_DISABLED, endpoint_id)
        if disabled is None:
            raise EndpointNotFoundError(endpoint_id)
        if disabled:
            raise ValueError(f"endpoint {endpoint_id} is disabled; enable it first")
        rows = await conn.fetch(sql.REPLAY_FAILED, endpoint_id, since)
        await notify(conn, sql.WAKE_CHANNEL)
    return len(rows)


async def replay_delivery(pool: Pool, delivery_id: int) -> UUID:
    """One delivery sent again, whatever its state. Returns its endpoint."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(sql.REPLAY_ONE, delivery_id)
        if row is None:
            raise DeliveryNotFoundError(delivery_id)
        if row["disabled"]:
            raise ValueError(f"endpoint {row['endpoint_id']} is disabled; enable it first")
        await notify(conn, sql.WAKE_CHANNEL)
    endpoint: UUID = row["endpoint_id"]
    return endpoint


async def list_deliveries(pool: Pool, endpoint_id: UUID, state: str | None,
                          limit: int) -> list[dict[str, Any]]:
    return [dict(r) for r in await pool.fetch(sql.LIST_DELIVERIES, endpoint_id, state, limit)]


async def attempts(pool: Pool, delivery_id: int) -> list[dict[str, Any]]:
    return [dict(r) for r in await pool.fetch(sql.ATTEMPTS, delivery_id)]

"""One signed POST to an endpoint (Standard Webhooks), and the HTTP client it goes through, whose
resolver is the SSRF guard's second check (services/webhooks/guard.py)."""

import ipaddress
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import lru_cache
from uuid import UUID

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver
from standardwebhooks.webhooks import Webhook

from services.webhooks.errors import UnsafeAddressError, UnsafeURLError
from services.webhooks.guard import Network, address_allowed, check_literal
from shared.redact import redact_text
from shared.settings import Settings

RESPONSE_KEPT = 4096


class GuardedResolver(AbstractResolver):
    """aiohttp's resolver, refusing a name if any address it resolves to is not allowed."""

    def __init__(self, allowed: Sequence[Network]) -> None:
        self._inner = ThreadedResolver()
        self._allowed = tuple(allowed)

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        refused = [r["host"] for r in results
                   if not address_allowed(ipaddress.ip_address(r["host"].split("%")[0]),
                                          self._allowed)]
        if refused:
            raise UnsafeAddressError(host, refused)
        return results

    async def close(self) -> None:
        await self._inner.close()


def create_session(settings: Settings, allowed: tuple[Network, ...]) -> aiohttp.ClientSession:
    """Keep-alive pool with the SSRF guard in its resolver; no redirects are ever followed.
    No per-host limit: endpoints sharing a host must not share a limit (the dispatcher limits
    each endpoint)."""
    connector = aiohttp.TCPConnector(limit=settings.webhook_max_in_flight, limit_per_host=0,
                                     resolver=GuardedResolver(allowed), ttl_dns_cache=10)
    return aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=settings.webhook_timeout_s),
        headers={"User-Agent": "clients-pipeline-webhooks/1"}, skip_auto_headers=["Accept"])


@lru_cache(maxsize=4096)
def _signer(secret: str) -> Webhook:
    return Webhook(secret)


def signature(secrets: list[str], msg_id: str, at: datetime, body: str) -> str:
    """`v1,<base64>` per secret, space-separated (both during a rotation)."""
    return " ".join(_signer(s).sign(msg_id, at, body) for s in secrets)


@dataclass(frozen=True)
class Attempt:
    at: datetime
    latency_ms: float
    status_code: int | None = None
    response: str | None = None
    error: str | None = None
    retry_after_s: float | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


async def post(session: aiohttp.ClientSession, allowed: tuple[Network, ...], url: str,
               event_id: UUID, body: str, secrets: list[str]) -> Attempt:
    """Never raises for what the endpoint does: every outcome is an Attempt to record."""
    at = datetime.now(UTC)
    started = time.perf_counter()

    def elapsed() -> float:
        return (time.perf_counter() - started) * 1000

    msg_id = str(event_id)
    headers = {"content-type": "application/json", "webhook-id": msg_id,
               "webhook-timestamp": str(int(at.timestamp())),
               "webhook-signature": signature(secrets, msg_id, at, body)}
    try:
        check_literal(url, allowed)
        async with session.post(url, data=body.encode(), headers=headers,
                                allow_redirects=False) as resp:
            kept = await resp.content.read(RESPONSE_KEPT)
            status = resp.status
            ok = 200 <= status < 300
            return Attempt(at=at, latency_ms=elapsed(), status_code=status,
                           response=redact_text(kept.decode("utf-8", "replace")),
                           error=None if ok else f"HTTP {status}",
                           retry_after_s=(retry_after(resp.headers.get("Retry-After"), at)
                                          if status in (429, 503) else None))
    except TimeoutError:
        return Attempt(at=at, latency_ms=elapsed(),
                       error=f"timeout after {session.timeout.total}s")
    except UnsafeURLError as e:
        return Attempt(at=at, latency_ms=elapsed(), error=str(e))
    except aiohttp.ClientConnectorError as e:  # the resolver's refusal arrives wrapped
        cause = e.os_error if isinstance(e.os_error, UnsafeAddressError) else e
        return Attempt(at=at, latency_ms=elapsed(), error=f"{type(e).__name__}: {cause}")
    except (aiohttp.ClientError, OSError) as e:
        return Attempt(at=at, latency_ms=elapsed(), error=f"{type(e).__name__}: {e}")


def retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())

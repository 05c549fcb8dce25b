"""What SendBlue and Resend share: one HTTP attempt, classified (retry or give up); what an
accepted send and an inbound message are. Each provider's own knowledge is in sendblue.py and
resend.py."""

from dataclasses import dataclass
from typing import Any

import aiohttp

from services.delivery.errors import PermanentSendError, RetryableSendError


@dataclass(frozen=True)
class Accepted:
    provider: str
    provider_id: str
    state: str | None           # what the answer says (SendBlue: usually queued)
    pause_s: float | None = None  # Resend: rate limit spent, wait this long before the next


@dataclass(frozen=True)
class Inbound:
    """What an inbound message says, whoever carried it."""

    ours: str                    # the store's number or address it was sent to
    theirs: str                  # the sender's
    text: str | None
    subject: str | None
    display_name: str | None     # an email sender's name, when given


def retry_after(headers: Any) -> float | None:
    for name in ("retry-after", "ratelimit-reset"):
        value = headers.get(name)
        if value:
            try:
                return max(0.0, float(value))
            except ValueError:
                continue
    return None


async def post(session: aiohttp.ClientSession, provider: str, url: str,
                headers: dict[str, str], body: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    try:
        async with session.post(url, json=body, headers=headers) as resp:
            text = await resp.text()
            if resp.status == 429 or resp.status >= 500:
                raise RetryableSendError(provider, f"HTTP {resp.status}: {text[:300]}",
                                         retry_after(resp.headers))
            if resp.status >= 300:
                raise PermanentSendError(provider, f"HTTP {resp.status}: {text[:500]}")
            try:
                data = await resp.json(content_type=None)
            except ValueError as e:
                raise PermanentSendError(provider, f"unreadable answer: {text[:300]}") from e
            return (data if isinstance(data, dict) else {}), resp.headers
    except TimeoutError as e:
        raise RetryableSendError(provider, "timeout") from e
    except aiohttp.ClientError as e:
        raise RetryableSendError(provider, f"{type(e).__name__}: {e}") from e

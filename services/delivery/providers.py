"""SendBlue (SMS) and Resend (email) over HTTP: one attempt each, classified."""

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import aiohttp

from services.delivery.errors import PermanentSendError, RetryableSendError
from services.delivery.states import sendblue_state
from shared.callback_url import status_callback_url
from shared.settings import Settings


@dataclass(frozen=True)
class Accepted:
    provider: str
    provider_id: str
    state: str | None           # what the answer says (SendBlue: usually queued)
    pause_s: float | None = None  # Resend: rate limit spent, wait this long before the next


def _retry_after(headers: Any) -> float | None:
    for name in ("retry-after", "ratelimit-reset"):
        value = headers.get(name)
        if value:
            try:
                return max(0.0, float(value))
            except ValueError:
                continue
    return None


async def _post(session: aiohttp.ClientSession, provider: str, url: str,
                headers: dict[str, str], body: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    try:
        async with session.post(url, json=body, headers=headers) as resp:
            text = await resp.text()
            if resp.status == 429 or resp.status >= 500:
                raise RetryableSendError(provider, f"HTTP {resp.status}: {text[:300]}",
                                         _retry_after(resp.headers))
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


async def send_sms(session: aiohttp.ClientSession, settings: Settings, *, message_id: UUID,
                   to: str, from_number: str, content: str) -> Accepted:
    data, _ = await _post(
        session, "sendblue", f"{settings.sendblue_api_url.rstrip('/')}/api/send-message",
        {"sb-api-key-id": settings.sendblue_api_key_id,
         "sb-api-secret-key": settings.sendblue_api_secret_key},
        {"number": to, "content": content, "from_number": from_number,
         "status_callback": status_callback_url(settings.public_url,
                                                settings.callback_url_secret, str(message_id))})
    handle = data.get("message_handle")
    if not handle:
        raise PermanentSendError("sendblue", f"no message_handle in {str(data)[:300]}")
    state, _ = sendblue_state(data)
    if state == "failed":
        raise PermanentSendError("sendblue", str(data.get("error_message") or data)[:500])
    return Accepted("sendblue", str(handle), state)


async def send_email(session: aiohttp.ClientSession, settings: Settings, *, message_id: UUID,
                     to: str, from_address: str, subject: str | None, html: str | None,
                     text: str | None) -> Accepted:
    body: dict[str, Any] = {"from": from_address, "to": [to], "subject": subject or ""}
    if html:
        body["html"] = html
    if text:
        body["text"] = text
    data, headers = await _post(
        session, "resend", f"{settings.resend_api_url.rstrip('/')}/emails",
        {"Authorization": f"Bearer {settings.resend_api_key}",
         "Idempotency-Key": str(message_id)}, body)
    email_id = data.get("id")
    if not email_id:
        raise PermanentSendError("resend", f"no id in {str(data)[:300]}")
    pause = _retry_after(headers) if headers.get("ratelimit-remaining") == "0" else None
    return Accepted("resend", str(email_id), "queued", pause)

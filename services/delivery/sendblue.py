"""SendBlue (SMS): sending, its statuses onto ours, and what its inbound callbacks say.

Sends go to POST {SENDBLUE_API_URL}/api/send-message with sb-api-key-id / sb-api-secret-key and
a per-message `status_callback` URL (shared/callback_url.py). Statuses arrive in that callback
and in the send's answer.
"""

from typing import Any
from uuid import UUID

import aiohttp

from services.delivery.errors import PermanentSendError
from services.delivery.providers import Accepted, Inbound, post
from shared.callback_url import status_callback_url
from shared.settings import Settings

STATUSES = {
    "REGISTERED": "queued", "PENDING": "queued", "QUEUED": "queued",
    "ACCEPTED": "sent", "SENT": "sent",
    "DELIVERED": "delivered", "READ": "delivered",
    "ERROR": "failed", "FAILED": "failed", "DECLINED": "failed",
}


def status_name(payload: dict[str, Any]) -> str | None:
    status = payload.get("status")
    return str(status) if status else None


def state_of(payload: dict[str, Any]) -> tuple[str | None, str | None]:
    """(our state, error) for a SendBlue status callback or send response."""
    status = str(payload.get("status") or "").upper()
    state = STATUSES.get(status)
    error = payload.get("error_message") or payload.get("error_detail")
    return state, (str(error) if state == "failed" and error else
                   (f"SendBlue {status}" if state == "failed" else None))


def inbound(payload: dict[str, Any]) -> Inbound:
    """An inbound SMS: to the store's number, from the client's, with its content."""
    return Inbound(ours=str(payload.get("to_number") or payload.get("sendblue_number") or ""),
                   theirs=str(payload.get("from_number") or ""), text=payload.get("content"),
                   subject=None, display_name=None)


async def send_sms(session: aiohttp.ClientSession, settings: Settings, *, message_id: UUID,
                   to: str, from_number: str, content: str) -> Accepted:
    data, _ = await post(
        session, "sendblue", f"{settings.sendblue_api_url.rstrip('/')}/api/send-message",
        {"sb-api-key-id": settings.sendblue_api_key_id,
         "sb-api-secret-key": settings.sendblue_api_secret_key},
        {"number": to, "content": content, "from_number": from_number,
         "status_callback": status_callback_url(settings.public_url,
                                                settings.callback_url_secret, str(message_id))})
    handle = data.get("message_handle")
    if not handle:
        raise PermanentSendError("sendblue", f"no message_handle in {str(data)[:300]}")
    state, _ = state_of(data)
    if state == "failed":
        raise PermanentSendError("sendblue", str(data.get("error_message") or data)[:500])
    return Accepted("sendblue", str(handle), state)

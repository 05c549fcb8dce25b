"""Resend (email): sending, its event types onto our states, and what `email.received` says.

Sends go to POST {RESEND_API_URL}/emails with a Bearer key and `Idempotency-Key: <message_id>`;
its webhooks (Svix-signed) carry `type` and `data.email_id`.
"""

from email.utils import parseaddr
from typing import Any
from uuid import UUID

import aiohttp

from services.delivery.errors import PermanentSendError
from services.delivery.providers import Accepted, Inbound, post, retry_after
from shared.settings import Settings

STATUSES = {
    "email.scheduled": "queued",
    "email.sent": "sent",
    "email.delivered": "delivered",
    "email.opened": "delivered", "email.clicked": "delivered",
    # a complaint is about a delivered email
    "email.complained": "delivered",
    "email.bounced": "failed", "email.failed": "failed", "email.suppressed": "failed",
    # email.delivery_delayed: still on its way; nothing moves
}


def status_name(payload: dict[str, Any]) -> str | None:
    kind = payload.get("type")
    return str(kind) if kind else None


def state_of(payload: dict[str, Any]) -> tuple[str | None, str | None]:
    kind = str(payload.get("type") or "")
    state = STATUSES.get(kind)
    error = None
    if state == "failed":
        data = payload.get("data") or {}
        detail = data.get("bounce") or data.get("failed") or {}
        error = (detail.get("message") if isinstance(detail, dict) else None) or kind
    return state, error


def inbound(payload: dict[str, Any]) -> Inbound:
    """`email.received`: to the store's address, from the client's, with its text."""
    data = payload.get("data")
    data = data if isinstance(data, dict) else {}
    to = data.get("to") or []
    display, theirs = parseaddr(str(data.get("from") or ""))
    return Inbound(ours=parseaddr(to[0] if isinstance(to, list) and to else str(to))[1],
                   theirs=theirs, text=data.get("text"), subject=data.get("subject"),
                   display_name=display or None)


async def send_email(session: aiohttp.ClientSession, settings: Settings, *, message_id: UUID,
                     to: str, from_address: str, subject: str | None, html: str | None,
                     text: str | None) -> Accepted:
    body: dict[str, Any] = {"from": from_address, "to": [to], "subject": subject or ""}
    if html:
        body["html"] = html
    if text:
        body["text"] = text
    data, headers = await post(
        session, "resend", f"{settings.resend_api_url.rstrip('/')}/emails",
        {"Authorization": f"Bearer {settings.resend_api_key}",
         "Idempotency-Key": str(message_id)}, body)
    email_id = data.get("id")
    if not email_id:
        raise PermanentSendError("resend", f"no id in {str(data)[:300]}")
    pause = retry_after(headers) if headers.get("ratelimit-remaining") == "0" else None
    return Accepted("resend", str(email_id), "queued", pause)

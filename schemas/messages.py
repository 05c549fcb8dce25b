"""Messaging contracts: `messages.outbound.v1`, `messages.events.v1`, `delivery.callbacks.v1`
and `inbox.commands.v1`."""

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import Field

from schemas.common import Contract

Channel = Literal["sms", "email", "in_app"]
State = Literal["queued", "sent", "delivered", "failed", "received"]
Provider = Literal["sendblue", "resend"]


class OutboundMessage(Contract):
    """Send a message to a client (key = message_id)."""

    message_id: UUID = Field(description="the idempotency key: sent once per message_id")
    store_id: UUID
    client_id: UUID
    channel: Channel
    subject: str | None = None
    text: str | None = None
    html: str | None = None
    thread_id: UUID | None = Field(default=None, description="default: the client's open "
                                   "thread, or a new one")


class MessageEvent(Contract):
    """Every state change of a message (key = message_id)."""

    message_id: UUID
    store_id: UUID
    client_id: UUID | None
    thread_id: UUID | None
    channel: Channel
    state: State
    at: datetime
    error: str | None = None


class ProviderCallback(Contract):
    """A genuine provider callback, as received (key = the provider's message id, or the
    sender's number for inbound SMS)."""

    provider: Provider
    callback_key: str = Field(description="svix-id (Resend) or a digest of the body (SendBlue)")
    received_at: datetime
    payload: dict[str, Any] = Field(description="the provider's JSON body, tokens redacted")

    # What the edge (to key it) and the delivery service (to apply it) both read off a callback.

    @property
    def is_inbound(self) -> bool:
        """A message to the store (SendBlue `is_outbound: false`, Resend `email.received`),
        as opposed to a status of one we sent."""
        if self.provider == "sendblue":
            return self.payload.get("is_outbound") is False
        return self.payload.get("type") == "email.received"

    @property
    def provider_id(self) -> str | None:
        """The provider's id of the message: SendBlue's message_handle, Resend's email_id."""
        if self.provider == "sendblue":
            value = self.payload.get("message_handle")
        else:
            data = self.payload.get("data")
            value = data.get("email_id") if isinstance(data, dict) else None
        return str(value) if value else None

    @property
    def partition_key(self) -> str:
        """One message's callbacks share a partition (its provider id), so they apply in
        order; an inbound SMS goes by its sender's number, so a conversation stays in order."""
        sender = self.payload.get("from_number")
        if self.provider == "sendblue" and self.is_inbound and sender:
            return str(sender)
        return self.provider_id or self.callback_key


class InboxCommand(Contract):
    """An operator's action on a thread (key = thread_id)."""

    command: Literal["mark_read", "close", "reopen", "reply"]
    store_id: UUID
    thread_id: UUID
    at: datetime | None = Field(default=None, description="mark_read: read up to (default now)")
    # reply
    message_id: UUID | None = Field(default=None, description="reply: its idempotency key")
    channel: Channel | None = None
    subject: str | None = None
    text: str | None = None
    html: str | None = None

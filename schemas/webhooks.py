"""What webhook endpoints receive, and `webhooks.events.v1` (key = endpoint id): news about the
endpoints themselves."""

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import Field

from schemas.common import Contract
from schemas.events import ClientSnapshot, EventType


class ErasedClient(Contract):
    id: UUID


class WebhookPayload(Contract):
    """The body of every webhook POST. Its `webhook-id` header is the client event's id."""

    type: EventType
    timestamp: datetime = Field(description="when the client change happened")
    data: ClientSnapshot | ErasedClient = Field(
        description="the client as it is after the change; client.erased: its id only")


class EndpointDisabled(Contract):
    id: UUID
    type: Literal["webhook.endpoint_disabled"] = "webhook.endpoint_disabled"
    occurred_at: datetime
    store_id: UUID
    endpoint_id: UUID
    url: str
    reason: str = Field(description="gone (410) | failing (no success within the window)")

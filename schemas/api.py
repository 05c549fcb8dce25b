"""The HTTP API's bodies (`/v1`): requests the edge turns into commands, and what reads return.
The OpenAPI document (schemas/generated/openapi.json) is generated from these."""

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import Field

from schemas.addresses import Address, AddressChanges, AddressType
from schemas.commands import MAX_BULK, ClientChanges, CommandResult, Tag
from schemas.common import Contract, FieldError
from schemas.events import ClientSnapshot
from schemas.ingest import MAX_TAGS

Sort = Literal["-updated_at", "updated_at", "name", "-name", "created_at", "-created_at"]
MAX_LIMIT = 100


class ClientView(ClientSnapshot):
    archived_at: datetime | None = Field(description="set while the client is archived")
    erased_at: datetime | None = Field(default=None, description="set once an erasure ran: "
                                       "every personal field is gone")


class Total(Contract):
    value: int
    exact: bool = Field(description="false past 10,000 matches of a filter: then an "
                        "estimate (without a filter, or with only a status, always exact)")


class ClientPage(Contract):
    clients: list[ClientView]
    next: str | None = Field(description="opaque cursor of the next page; null on the last")
    total: Total


class ClientPatch(ClientChanges):
    """PATCH /v1/clients/{id}: the fields to change (null or blank clears one), plus the
    optional guards."""

    expected_version: int | None = Field(default=None, ge=1)
    command_id: str | None = Field(default=None, min_length=1, max_length=128,
                                   description="idempotency key; one is made when absent")


class TagChange(Contract):
    add: list[Tag] = Field(default_factory=list, max_length=MAX_TAGS)
    remove: list[Tag] = Field(default_factory=list, max_length=MAX_TAGS)
    expected_version: int | None = Field(default=None, ge=1)
    command_id: str | None = Field(default=None, min_length=1, max_length=128)


class BulkTagChange(TagChange):
    client_ids: list[UUID] = Field(min_length=1, max_length=MAX_BULK)


class MergeRequest(Contract):
    """POST /v1/clients/merge: the secondary is merged into the primary and archived."""

    primary_id: UUID
    secondary_id: UUID
    expected_version: int | None = Field(default=None, ge=1, description="the primary's")
    command_id: str | None = Field(default=None, min_length=1, max_length=128)


class PossibleDuplicate(Contract):
    """Another live client of the store that may be the same person: never merged
    automatically (POST /v1/clients/merge does it when asked)."""

    client_id: UUID
    name: str
    phone: str | None
    reason: Literal["name", "phone"] = Field(description="the same name (case and accents "
                                             "aside), or the same phone")


class CommandAnswer(Contract):
    """A write's answer: the command's result and, for one client, the client as it is now."""

    result: CommandResult
    client: ClientView | None = None
    warnings: list[PossibleDuplicate] = Field(default_factory=list, description="a rename "
                                              "or a new phone: possible duplicates")


class Accepted(Contract):
    """202: the command is on its way; its result is not known yet."""

    command_id: str


class TagCount(Contract):
    tag: str
    clients: int = Field(description="live clients with the tag, exact")


class TagList(Contract):
    tags: list[TagCount]


class TimelineItem(Contract):
    kind: Literal["touch", "message", "audit", "attestation", "order"]
    at: datetime
    detail: dict[str, Any]


class Timeline(Contract):
    items: list[TimelineItem]
    next: str | None


class AuditActor(Contract):
    type: str
    id: UUID | None
    name: str | None


class AuditItem(Contract):
    seq: int
    at: datetime
    actor: AuditActor
    action: str
    changes: dict[str, list[Any]] = Field(description="field -> [before, after]")
    client_version: int
    command_id: str | None


class AuditPage(Contract):
    entries: list[AuditItem]
    next: str | None


class Problem(Contract):
    """Every error: a message, and the fields at fault when there are some."""

    error: str
    errors: list[FieldError] = Field(default_factory=list)
    scope: str | None = Field(default=None, description="403: the scope the token lacks")


class SegmentCount(Contract):
    label: str
    count: int


class CustomerSegments(Contract):
    """Seed 004's shape: each segment's live clients (vip: every VIP), and all live clients."""

    new: SegmentCount
    returning: SegmentCount
    loyal: SegmentCount
    vip: SegmentCount
    at_risk: SegmentCount
    total: SegmentCount


class NewAddress(Address):
    """POST /v1/clients/{id}/addresses."""

    type: AddressType
    is_default: bool = Field(default=False, description="make it its type's default (the "
                             "first of a type is anyway)")
    command_id: str | None = Field(default=None, min_length=1, max_length=128)


class AddressPatch(AddressChanges):
    """PATCH /v1/clients/{id}/addresses/{address_id}: the fields to change (null clears one;
    address1 and city cannot be cleared), and optionally its type or default."""

    type: AddressType | None = None
    is_default: bool | None = None
    command_id: str | None = Field(default=None, min_length=1, max_length=128)

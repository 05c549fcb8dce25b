"""Privacy and compliance: erasure requests, RUO attestations (and `clients.attestations.v1`,
key = store id + capture id), and the subject-access bundle."""

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import Field, StringConstraints, model_validator

from schemas.commands import CommandResult
from schemas.common import Contract, Text
from schemas.ingest import ClientFields

BUNDLE_VERSION: Literal[1] = 1
ErasureStatus = Literal["pending", "cancelled", "done"]
AttestationText = Annotated[Text, StringConstraints(min_length=1, max_length=20_000)]
Short = Annotated[Text, StringConstraints(max_length=1000)]


class ErasureRequestBody(Contract):
    client_id: UUID
    reason: Annotated[Text, StringConstraints(min_length=1, max_length=1000)]
    command_id: Annotated[Text, StringConstraints(min_length=1, max_length=128)] | None = Field(
        default=None, description="idempotency key")


class Requester(Contract):
    type: str
    id: UUID | None
    name: str | None


class ErasureView(Contract):
    id: UUID
    client_id: UUID
    status: ErasureStatus
    reason: str
    requested_by: Requester
    requested_at: datetime
    due_at: datetime = Field(description="when the eraser runs it; cancellable until then")
    cancelled_at: datetime | None
    cancelled_by: str | None
    done_at: datetime | None
    receipt: dict[str, int] | None = Field(description="done: rows touched per table")


class ErasureAnswer(Contract):
    result: CommandResult
    erasure: ErasureView | None


class ErasureList(Contract):
    requests: list[ErasureView]


class RuoSettings(Contract):
    """The store's RUO attestation: the text shown, its version, how long a capture is valid."""

    text: AttestationText
    version: int = Field(ge=1, le=1_000_000)
    validity_days: int = Field(ge=1, le=36_500)
    updated_at: datetime | None = Field(default=None, description="set by the server")


class AttestationBody(Contract):
    """`POST /v1/clients/{id}/attestations`: text and version default to the store's current
    RUO settings, captured_at to now."""

    text: AttestationText | None = None
    version: int | None = Field(default=None, ge=1, le=1_000_000)
    captured_at: datetime | None = None
    ip: Annotated[Text, StringConstraints(max_length=64)] | None = None
    user_agent: Short | None = None
    capture_id: Annotated[Text, StringConstraints(min_length=1, max_length=128)] | None = Field(
        default=None, description="idempotency key")


class AttestationCapture(Contract):
    """`clients.attestations.v1`: an attestation captured at checkout (or through the API).
    The client is named by id, or found (or made) by the resolver from `customer`, as an
    upsert from `integration_key_id` (or the source label) would. Producers are our own
    systems: like the commands topic, the record is trusted to name its store."""

    capture_id: Annotated[Text, StringConstraints(min_length=1, max_length=128)] = Field(
        description="idempotency key: the same capture twice records one attestation")
    store_id: UUID
    client_id: UUID | None = None
    customer: ClientFields | None = None
    integration_key_id: UUID | None = None
    source_label: Annotated[Text, StringConstraints(min_length=1, max_length=200)] = "checkout"
    text: AttestationText
    version: int = Field(ge=1, le=1_000_000)
    captured_at: datetime
    ip: Annotated[Text, StringConstraints(max_length=64)] | None = None
    user_agent: Short | None = None
    actor_name: Annotated[Text, StringConstraints(max_length=200)] | None = None

    @model_validator(mode="after")
    def _names_a_client(self) -> "AttestationCapture":
        if (self.client_id is None) == (self.customer is None):
            raise ValueError("give client_id or customer (email / external id), one of them")
        return self


class AttestationView(Contract):
    id: UUID
    client_id: UUID
    text: str
    version: int
    captured_at: datetime
    ip: str | None
    user_agent: str | None
    source: str
    actor_name: str | None
    recorded_at: datetime


class AttestationList(Contract):
    attestations: list[AttestationView] = Field(description="newest first")


class AttestationValidity(Contract):
    valid: bool = Field(description="the latest capture is inside the store's window")
    latest: AttestationView | None
    expires_at: datetime | None


class DeliveryState(Contract):
    provider: str
    status: str | None
    state: str | None
    received_at: datetime


class BundleMessage(Contract):
    id: UUID
    channel: str
    direction: str
    state: str
    subject: str | None
    text: str | None
    html: str | None
    from_addr: str | None
    to_addr: str | None
    error: str | None
    provider: str | None
    provider_id: str | None
    created_at: datetime
    updated_at: datetime
    delivery_states: list[DeliveryState]


class BundleThread(Contract):
    id: UUID
    channel: str
    status: str
    created_at: datetime
    last_activity_at: datetime
    messages: list[BundleMessage]


class SubjectAccessBundle(Contract):
    """`GET /v1/clients/{id}/export`: everything the store holds about one person."""

    bundle_version: Literal[1] = BUNDLE_VERSION
    exported_at: datetime
    store_id: UUID
    client: dict[str, Any] = Field(description="the client row (its personal fields, tags, "
                                   "status, dates, archive and erasure)")
    external_ids: list[dict[str, Any]]
    touches: list[dict[str, Any]] = Field(description="every upsert that reached the client")
    threads: list[BundleThread]
    attestations: list[AttestationView]
    audit: list[dict[str, Any]]
    erasure_requests: list[ErasureView]
    orders: list[dict[str, Any]] = Field(description="every order of the client")
    payments: list[dict[str, Any]] = Field(description="payments and refunds received")
    addresses: list[dict[str, Any]] = Field(default_factory=list,
                                            description="billing and shipping addresses")
    notes: list[dict[str, Any]] = Field(default_factory=list, description="the notes log")
    contacts: list[dict[str, Any]] = Field(default_factory=list, description="the account's "
                                           "contacts")
    price_overrides: list[dict[str, Any]] = Field(default_factory=list)

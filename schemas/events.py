"""`clients.events.v1` (key = client id): the envelope every downstream consumer reads."""

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field, RootModel

from schemas.common import Contract
from schemas.ingest import ClientType
from schemas.master_data import MasterDataChanged
from schemas.profiles import ContactMethod, DiscoverySource, WholesaleTerms

ChangeType = Literal["client.created", "client.updated", "client.archived", "client.restored",
                     "client.merged"]
# Every type on the topic, and what a webhook endpoint can subscribe to.
EventType = Literal["client.created", "client.updated", "client.archived", "client.restored",
                    "client.merged", "client.erased"]


Segment = Literal["new", "returning", "loyal", "vip", "at_risk"]


class ClientSnapshot(Contract):
    id: UUID
    store_id: UUID
    name: str
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None
    company: str | None
    type: ClientType
    status: Literal["ACTIVE", "BLOCKED"]
    credit_limit: Decimal | None = Field(description="at most 2 decimals; null: none")
    tags: list[str]
    notes: str | None
    external_ids: dict[str, str] = Field(description="integration key id -> external id")
    source_label: str | None
    source_external_id: str | None
    source_integration_key_id: UUID | None
    created_at: datetime
    updated_at: datetime
    version: int = Field(ge=1, description="grows with every change (client.created: 1): a "
                         "consumer drops an event older than one it has")
    total_orders: int = Field(default=0, description="orders placed and not cancelled")
    total_spent_minor: int = Field(default=0, description="their totals less refunds, in "
                                   "minor units of the store's currency")
    avg_order_value_minor: int | None = Field(default=None, description="spent / orders")
    first_order_at: datetime | None = None
    last_order_at: datetime | None = None
    is_vip: bool = Field(default=False, description="CUSTOMERS_VIP_ORDER_THRESHOLD orders or "
                         "CUSTOMERS_VIP_SPEND_THRESHOLD spent")
    segment: Segment | None = Field(default=None, description="README, \"Orders\"")
    accepts_marketing: bool = False
    marketing_consent_at: datetime | None = Field(default=None, description="when consent "
                                                  "last changed")
    marketing_consent_source: str | None = Field(default=None, description="where it changed: "
                                                 "a source label, a member, an order source")
    merged_into: UUID | None = Field(default=None, description="set once this client was merged "
                                     "into another (client.merged): the one that remains")
    date_of_birth: date | None = None
    allergies: str | None = None
    wholesale_terms: WholesaleTerms | None = None
    tax_exempt: bool = False
    resale_certificate: str | None = None
    resale_certificate_expires_on: date | None = None
    customer_since: date | None = None
    preferred_contact: ContactMethod | None = None
    discovery_source: DiscoverySource | None = None
    referral_details: str | None = None
    is_consignor: bool = False
    consignor_code: str | None = None
    consigned_items: int = 0
    instagram: str | None = Field(default=None, description="the handle")
    facebook: str | None = Field(default=None, description="the profile URL")
    parent_id: UUID | None = Field(default=None, description="the parent client")
    country: str | None = None
    currency: str | None = None
    qbo_id: str | None = None
    customer_type_id: UUID | None = Field(default=None, description="master data")
    customer_segment_id: UUID | None = Field(default=None, description="master data")
    broker_id: UUID | None = Field(default=None, description="master data")


class ClientEvent(Contract):
    """A change of a client, with the client as the change left it. client.merged is about the
    secondary (archived, `client.merged_into` = the primary, which gets client.updated)."""

    id: UUID = Field(description="stable across re-publication: consumers dedupe on it")
    type: ChangeType
    occurred_at: datetime
    store_id: UUID
    client: ClientSnapshot
    changed: list[str] = Field(default_factory=list,
                               description="client.updated: the fields that changed")


class ClientErased(Contract):
    """A client's personal data is gone (an erasure request ran): the client id only. A
    consumer erases what it kept of that client."""

    id: UUID = Field(description="stable across re-publication: consumers dedupe on it")
    type: Literal["client.erased"] = "client.erased"
    occurred_at: datetime
    store_id: UUID
    client_id: UUID


class AnyClientEvent(RootModel[Annotated[ClientEvent | ClientErased | MasterDataChanged,
                                         Field(discriminator="type")]]):
    """What `clients.events.v1` carries: a change with the client's snapshot, an erasure, or
    a change of the store's master data."""

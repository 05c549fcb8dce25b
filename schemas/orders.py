"""`orders.events.v1` (key = store id:order id): what the store's order system says about an
order, and the reads of orders and addresses."""

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import (
    Field,
    StringConstraints,
    model_validator,
)

from schemas.addresses import Address, AddressType
from schemas.common import Contract, Text
from schemas.ingest import ClientFields

OrderEventType = Literal["order.placed", "order.paid", "order.refunded", "order.cancelled"]
class AddressView(Address):
    id: UUID
    type: AddressType
    is_default: bool
    source: str
    created_at: datetime
    updated_at: datetime


class AddressList(Contract):
    addresses: list[AddressView] = Field(description="billing then shipping, defaults first")


class OrderAttestation(Contract):
    """An RUO attestation captured with the order: handed to the attestations capture."""

    text: Annotated[Text, StringConstraints(min_length=1, max_length=20_000)]
    version: int = Field(ge=1, le=1_000_000)
    captured_at: datetime | None = Field(default=None, description="default: occurred_at")
    ip: Annotated[Text, StringConstraints(max_length=64)] | None = None
    user_agent: Annotated[Text, StringConstraints(max_length=1000)] | None = None


class OrderEvent(Contract):
    type: OrderEventType
    store_id: UUID
    order_id: Annotated[Text, StringConstraints(min_length=1, max_length=128)]
    occurred_at: datetime = Field(description="with the order id and type, what makes an "
                                  "event itself: the same again is applied once")
    customer: ClientFields | None = Field(default=None, description="order.placed: who "
                                          "ordered (through the resolver); later events "
                                          "name the order only")
    integration_key_id: UUID | None = Field(default=None, description="the key whose "
                                            "external ids the customer's is")
    source_label: Annotated[Text, StringConstraints(min_length=1, max_length=200)] = "checkout"
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = Field(
        description="ISO 4217; the store sells in one")
    total_minor: int | None = Field(default=None, ge=0, le=10**15,
                                    description="order.placed: the order's total, in minor "
                                    "units")
    refunded_minor: int | None = Field(default=None, ge=0, le=10**15,
                                       description="order.refunded: refunded so far, in "
                                       "minor units")
    billing_address: Address | None = None
    shipping_address: Address | None = None
    accepts_marketing: bool | None = None
    attestation: OrderAttestation | None = None

    @model_validator(mode="after")
    def _fits_type(self) -> "OrderEvent":
        if self.type == "order.placed" and (self.customer is None or self.total_minor is None):
            raise ValueError("order.placed needs customer and total_minor")
        if self.type == "order.refunded" and self.refunded_minor is None:
            raise ValueError("order.refunded needs refunded_minor")
        return self


class OrderView(Contract):
    order_id: str
    currency: str
    total_minor: int
    refunded_minor: int
    status: Literal["placed", "paid", "refunded", "cancelled"]
    placed_at: datetime
    paid_at: datetime | None
    cancelled_at: datetime | None
    updated_at: datetime


class OrderList(Contract):
    orders: list[OrderView] = Field(description="newest first")

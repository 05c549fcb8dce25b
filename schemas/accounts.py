"""B2B accounts (seed 003): contacts under a client account, and per-product price
overrides."""

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field, StringConstraints

from schemas.common import Contract, Text
from schemas.ingest import Email, PersonName
from schemas.profiles import Currency

ContactRole = Literal["ADMIN", "BUYER", "VIEWER"]
ProductId = Annotated[Text, StringConstraints(min_length=1, max_length=128)]
PriceMinor = Annotated[int, Field(ge=0, le=10**15)]


class ContactView(Contract):
    id: UUID
    email: str
    name: str | None
    role: ContactRole
    account_status: Literal["ACTIVE", "BLOCKED"] = Field(description="the client account's: a "
                                                         "BLOCKED account's contacts are locked "
                                                         "out too")
    invited_at: datetime
    updated_at: datetime


class ContactList(Contract):
    contacts: list[ContactView]


class ContactInvite(Contract):
    email: Email
    name: PersonName | None = None
    role: ContactRole = "BUYER"
    command_id: str | None = Field(default=None, min_length=1, max_length=128)


class ContactChange(Contract):
    role: ContactRole
    command_id: str | None = Field(default=None, min_length=1, max_length=128)


class PriceOverrideView(Contract):
    product_id: str
    price_minor: int
    currency: str
    updated_at: datetime


class PriceOverrideList(Contract):
    price_overrides: list[PriceOverrideView]


class PriceOverrideBody(Contract):
    price_minor: PriceMinor
    currency: Currency
    command_id: str | None = Field(default=None, min_length=1, max_length=128)

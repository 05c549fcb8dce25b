"""Postal addresses (seed 004): billing or shipping, as ingest, orders and the addresses API
take them."""

from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator

from schemas.common import Changes, Contract, Text, blank_to_none

AddressType = Literal["billing", "shipping"]
MAX_ADDRESSES = 10  # given with a client at once

Short = Annotated[Text, StringConstraints(max_length=200)]
Line = Annotated[Text, StringConstraints(min_length=1, max_length=500)]


class Address(Contract):
    """A postal address as seed 004 has it (`pincode`: the postal code)."""

    first_name: Short | None = None
    last_name: Short | None = None
    company: Short | None = None
    address1: Line
    address2: Annotated[Text, StringConstraints(max_length=500)] | None = None
    city: Annotated[Text, StringConstraints(min_length=1, max_length=200)]
    state: Short | None = None
    pincode: Annotated[Text, StringConstraints(max_length=20)] | None = None
    country: Annotated[Text, StringConstraints(max_length=100)] | None = None
    phone: Annotated[Text, StringConstraints(max_length=40)] | None = None

    @field_validator("first_name", "last_name", "company", "address2", "state", "pincode",
                     "country", "phone", mode="before")
    @classmethod
    def _blank(cls, value: object) -> object:
        return blank_to_none(value)


class AddressChanges(Changes):
    """An address's fields to change; one left out is kept, a null clears it (address1 and city
    cannot be cleared)."""

    first_name: Short | None = None
    last_name: Short | None = None
    company: Short | None = None
    address1: Line | None = None
    address2: Annotated[Text, StringConstraints(max_length=500)] | None = None
    city: Annotated[Text, StringConstraints(min_length=1, max_length=200)] | None = None
    state: Short | None = None
    pincode: Annotated[Text, StringConstraints(max_length=20)] | None = None
    country: Annotated[Text, StringConstraints(max_length=100)] | None = None
    phone: Annotated[Text, StringConstraints(max_length=40)] | None = None




class TypedAddress(Address):
    """An address given with a client (create, update): saved unless an equal one of its type
    is there; the first of a type is its default."""

    type: AddressType


TypedAddresses = Annotated[list[TypedAddress], Field(max_length=MAX_ADDRESSES)]

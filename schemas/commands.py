"""`clients.commands.v1` (key = client id) and `clients.commands.results.v1` (key = command id):
changes to one client, or tags on many, by a member, a key or the system."""

from decimal import Decimal
from typing import Annotated, Literal
from uuid import UUID

from pydantic import (
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from schemas.accounts import ContactRole, PriceMinor, ProductId
from schemas.addresses import Address, AddressChanges, AddressType, TypedAddresses
from schemas.common import Changes, Contract, FieldError, Text, blank_to_none
from schemas.ingest import (
    MAX_TAGS,
    ClientType,
    Company,
    Email,
    Notes,
    PersonName,
    Phone,
    TagText,
    normalized_tags,
)
from schemas.master_data import MasterKind, MasterName
from schemas.notes import NoteText
from schemas.profiles import Country, Currency, ProfileFields

Action = Literal["update", "set_status", "set_credit_limit", "tag", "bulk_tag", "archive",
                 "restore", "request_erasure", "cancel_erasure", "add_address",
                 "update_address", "remove_address", "default_address", "merge", "add_note",
                 "edit_note", "remove_note", "invite_contact", "set_contact_role",
                 "remove_contact", "set_price_override", "remove_price_override",
                 "create_master_data", "rename_master_data", "delete_master_data"]
Status = Literal["ACTIVE", "BLOCKED"]
Tag = Annotated[TagText, StringConstraints(min_length=1)]
MAX_BULK = 1000


class Actor(Contract):
    """Who asked: named in the audit log."""

    type: Literal["member", "public_key", "integration_key", "system"]
    id: UUID | None = None
    name: str | None = Field(default=None, max_length=200)


class ClientChanges(Changes, ProfileFields):
    """`update`: the fields to set; a field given as null (or blank) is cleared, one left out
    is kept. Same limits and checks as ingest; name, email and phone cannot all go; name, type
    and status cannot be cleared."""

    name: Annotated[PersonName, StringConstraints(min_length=1)] | None = None
    first_name: PersonName | None = None
    last_name: PersonName | None = None
    email: Email | None = None
    phone: Phone | None = None
    company: Company | None = None
    notes: Notes | None = None
    type: ClientType | None = None
    status: Status | None = None
    credit_limit: Decimal | None = Field(default=None, ge=0, max_digits=12, decimal_places=2,
                                         description="null removes it")
    accepts_marketing: bool | None = Field(default=None, description="the client's marketing "
                                           "consent (when and by whom: audited)")
    addresses: TypedAddresses | None = Field(default=None, description="addresses to add (an "
                                             "equal one is not added again; the first of a "
                                             "type is its default)")
    # and the profile fields (schemas/profiles.py), plus these:
    consigned_items: int | None = Field(default=None, ge=0, le=10_000_000, description="kept "
                                        "by the system that owns consignments")
    parent_id: UUID | None = Field(default=None, description="the parent client (same store; "
                                   "a cycle is refused)")
    country: Country | None = Field(default=None, description="ISO 3166-1 alpha-2")
    customer_type_id: UUID | None = Field(default=None, description="a customer type of the "
                                          "store (master data)")
    customer_segment_id: UUID | None = Field(default=None, description="a customer segment of "
                                             "the store (master data)")
    broker_id: UUID | None = Field(default=None, description="a broker of the store")

    @field_validator("first_name", "last_name", "email", "phone", "company", "notes",
                     "country", mode="before")
    @classmethod
    def _blank(cls, value: object) -> object:
        return blank_to_none(value)


class ClientCommand(Contract):
    command_id: Annotated[Text, StringConstraints(min_length=1, max_length=128)] = Field(
        description="idempotency key: the same id twice gives the same result")
    store_id: UUID
    action: Action
    actor: Actor
    client_id: UUID | None = Field(default=None, description="every action but bulk_tag")
    client_ids: list[UUID] = Field(default_factory=list, max_length=MAX_BULK,
                                   description="bulk_tag: at most 1,000 clients")
    expected_version: int | None = Field(default=None, ge=1, description="refused as "
                                         "conflict when the client is at another version")
    changes: ClientChanges | None = Field(default=None, description="update")
    status: Status | None = Field(default=None, description="set_status")
    credit_limit: Decimal | None = Field(default=None, ge=0, max_digits=12, decimal_places=2,
                                         description="set_credit_limit; null removes it")
    add: list[Tag] = Field(default_factory=list, max_length=MAX_TAGS, description="tag")
    remove: list[Tag] = Field(default_factory=list, max_length=MAX_TAGS, description="tag")
    reason: Annotated[Text, StringConstraints(min_length=1, max_length=1000)] | None = Field(
        default=None, description="request_erasure: why (kept on the request)")
    erasure_id: UUID | None = Field(default=None, description="cancel_erasure: the request")
    address: Address | None = Field(default=None, description="add_address")
    address_changes: AddressChanges | None = Field(default=None, description="update_address")
    address_type: AddressType | None = Field(default=None, description="add_address, "
                                             "update_address: billing or shipping")
    address_id: UUID | None = Field(default=None, description="update_address, "
                                    "remove_address, default_address")
    is_default: bool | None = Field(default=None, description="add_address, update_address: "
                                    "make it its type's default (the old one stops being)")
    secondary_id: UUID | None = Field(default=None, description="merge: the client merged into "
                                      "client_id (the primary) and archived")
    note_id: UUID | None = Field(default=None, description="edit_note, remove_note")
    note_text: NoteText | None = Field(default=None, description="add_note, edit_note")
    contact_email: Email | None = Field(default=None, description="invite_contact")
    contact_name: PersonName | None = Field(default=None, description="invite_contact")
    contact_role: ContactRole | None = Field(default=None, description="invite_contact "
                                             "(default BUYER), set_contact_role")
    contact_id: UUID | None = Field(default=None, description="set_contact_role, "
                                    "remove_contact")
    product_id: ProductId | None = Field(default=None, description="the price override "
                                         "commands")
    price_minor: PriceMinor | None = Field(default=None, description="set_price_override: in "
                                           "minor units of `currency`")
    currency: Currency | None = Field(default=None, description="set_price_override")
    master_kind: MasterKind | None = Field(default=None, description="the master-data "
                                           "commands: customer_type, customer_segment, broker")
    master_id: UUID | None = Field(default=None, description="rename_master_data, "
                                   "delete_master_data")
    master_name: MasterName | None = Field(default=None, description="create_master_data, "
                                           "rename_master_data")

    @field_validator("add", "remove", mode="after")
    @classmethod
    def _tags(cls, tags: list[str]) -> list[str]:
        return normalized_tags(tags)

    @model_validator(mode="after")
    def _fits_action(self) -> "ClientCommand":
        if self.action == "bulk_tag":
            if not self.client_ids:
                raise ValueError("bulk_tag needs client_ids")
        elif self.action.endswith("_master_data"):
            if self.master_kind is None:
                raise ValueError(f"{self.action} needs master_kind")
            if self.action != "create_master_data" and self.master_id is None:
                raise ValueError(f"{self.action} needs master_id")
            if self.action != "delete_master_data" and self.master_name is None:
                raise ValueError(f"{self.action} needs master_name")
        elif self.client_id is None:
            raise ValueError(f"{self.action} needs client_id")
        if self.action == "update" and (self.changes is None
                                        or not self.changes.model_fields_set):
            raise ValueError("update needs changes")
        if self.action == "set_status" and self.status is None:
            raise ValueError("set_status needs status")
        if self.action in ("tag", "bulk_tag") and not (self.add or self.remove):
            raise ValueError(f"{self.action} needs add or remove")
        if self.action == "request_erasure" and not self.reason:
            raise ValueError("request_erasure needs a reason")
        if self.action == "cancel_erasure" and self.erasure_id is None:
            raise ValueError("cancel_erasure needs erasure_id")
        if self.action == "add_address" and (self.address is None or self.address_type is None):
            raise ValueError("add_address needs address and address_type")
        if self.action in ("add_note", "edit_note") and self.note_text is None:
            raise ValueError(f"{self.action} needs note_text")
        if self.action in ("edit_note", "remove_note") and self.note_id is None:
            raise ValueError(f"{self.action} needs note_id")
        if self.action == "invite_contact" and self.contact_email is None:
            raise ValueError("invite_contact needs contact_email")
        if self.action in ("set_contact_role", "remove_contact") and self.contact_id is None:
            raise ValueError(f"{self.action} needs contact_id")
        if self.action == "set_contact_role" and self.contact_role is None:
            raise ValueError("set_contact_role needs contact_role")
        if self.action in ("set_price_override", "remove_price_override") and \
                self.product_id is None:
            raise ValueError(f"{self.action} needs product_id")
        if self.action == "set_price_override" and (self.price_minor is None
                                                    or self.currency is None):
            raise ValueError("set_price_override needs price_minor and currency")
        if self.action == "merge" and self.secondary_id is None:
            raise ValueError("merge needs secondary_id")
        if self.action in ("update_address", "remove_address", "default_address") and \
                self.address_id is None:
            raise ValueError(f"{self.action} needs address_id")
        return self


Outcome = Literal["applied", "unchanged", "rejected", "conflict", "not_found"]


class CommandResult(Contract):
    command_id: str
    store_id: UUID | None
    outcome: Outcome
    client_ids: list[UUID] = Field(default_factory=list, description="the clients changed")
    version: int | None = Field(default=None, description="one client: its version after")
    errors: list[FieldError] = Field(default_factory=list)
    conflict_client_id: UUID | None = Field(default=None, description="email conflict: the "
                                            "live client that holds the address")
    erasure_id: UUID | None = Field(default=None, description="request_erasure, "
                                    "cancel_erasure: the erasure request")
    address_id: UUID | None = Field(default=None, description="the address commands: the "
                                    "address")
    note_id: UUID | None = Field(default=None, description="the note commands: the note")
    contact_id: UUID | None = Field(default=None, description="the contact commands: the "
                                    "contact")
    master_data_id: UUID | None = Field(default=None, description="the master-data commands: "
                                        "the entry")
    in_use: int | None = Field(default=None, description="delete_master_data refused: the "
                               "clients that use the entry")

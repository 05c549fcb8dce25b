"""`clients.ingest.v1` (and the body of POST /integrations/v1/clients)."""

from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field, StringConstraints, field_validator, model_validator

from schemas.addresses import TypedAddresses
from schemas.common import Text, blank_to_none
from schemas.profiles import ProfileFields

ClientType = Literal["retail", "wholesale"]

MAX_TAGS = 250
# The limits of a client's fields, the same wherever a client is written (ingest, import,
# commands on clients).
Email = Annotated[Text, StringConstraints(max_length=254)]
Phone = Annotated[Text, StringConstraints(max_length=64)]
PersonName = Annotated[Text, StringConstraints(max_length=100)]   # name, first and last name
Company = Annotated[Text, StringConstraints(max_length=200)]
Notes = Annotated[Text, StringConstraints(max_length=2000)]
TagText = Annotated[Text, StringConstraints(max_length=255)]
NEED_CONTACT = "email or phone is required"
NEED_NAME = "a name is required: name, or first_name/last_name"
# The field a whole-record rule is reported on.
WHOLESALE_ONLY = ("wholesale terms, tax exemption and a resale certificate are for wholesale "
                  "clients: give type wholesale with them")
CODE_NEEDS_CONSIGNOR = "a consignor code needs is_consignor true"
RULE_FIELDS = {NEED_CONTACT: "email", NEED_NAME: "name", WHOLESALE_ONLY: "wholesale_terms",
               CODE_NEEDS_CONSIGNOR: "consignor_code"}


def normalized_tags(tags: list[str]) -> list[str]:
    """Trimmed (by Text), lower-cased, de-duplicated in first-seen order, blanks dropped."""
    return list(dict.fromkeys(t.lower() for t in tags if t))


class ClientFields(ProfileFields):
    """What an upstream system says about a client. Blank strings count as absent."""

    store_id: UUID | None = Field(default=None, description="must be the key's store if given")
    external_id: Annotated[Text, StringConstraints(max_length=255)] | None = None
    email: Email | None = None
    phone: Phone | None = None
    name: PersonName | None = None
    first_name: PersonName | None = None
    last_name: PersonName | None = None
    company: Company | None = None
    type: ClientType = "retail"
    tags: list[TagText] = Field(default_factory=list, max_length=MAX_TAGS)
    notes: Notes | None = None
    accepts_marketing: bool | None = Field(default=None, description="the client's marketing "
                                           "consent, when the source knows it (absent: kept)")
    addresses: TypedAddresses = Field(default_factory=list, description="billing and shipping "
                                      "addresses, each saved unless an equal one is there")

    @field_validator("external_id", "email", "phone", "name", "first_name", "last_name",
                     "company", "notes", mode="before")
    @classmethod
    def _blank(cls, value: object) -> object:
        return blank_to_none(value)

    @field_validator("type", mode="before")
    @classmethod
    def _type_case(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("tags", mode="after")
    @classmethod
    def _tags(cls, tags: list[str]) -> list[str]:
        return normalized_tags(tags)

    @model_validator(mode="after")
    def _required(self) -> "ClientFields":
        if self.email is None and self.phone is None:
            raise ValueError(NEED_CONTACT)
        if self.name is None and self.first_name is None and self.last_name is None:
            raise ValueError(NEED_NAME)
        if self.type != "wholesale" and (self.wholesale_terms or self.tax_exempt
                                         or self.resale_certificate
                                         or self.resale_certificate_expires_on):
            raise ValueError(WHOLESALE_ONLY)
        if self.consignor_code and not self.is_consignor:
            raise ValueError(CODE_NEEDS_CONSIGNOR)
        return self


class ClientRequest(ClientFields):
    request_id: Annotated[Text, StringConstraints(min_length=1, max_length=128)] | None = None

    @field_validator("request_id", mode="before")
    @classmethod
    def _blank_request(cls, value: object) -> object:
        return blank_to_none(value)


class IngestRecord(ClientRequest):
    integration_key: str = Field(description="pck_int_…; never logged, stored or forwarded")

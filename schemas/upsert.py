"""`clients.upsert.v1` (normalized, authenticated commands) and `clients.upsert.results.v1`."""

from datetime import date, datetime
from typing import Literal
from uuid import UUID

from pydantic import Field

from schemas.addresses import TypedAddress
from schemas.common import CleanStr, Contract, FieldError
from schemas.ingest import ClientType

Outcome = Literal["created", "matched_external_id", "matched_email", "rejected"]
# What a match does to the existing client: fill its blank fields (ingest, seed 000), leave it
# as it is (import "skip"), or overwrite it with the record's non-empty fields (import "update").
OnMatch = Literal["fill", "skip", "update"]


class UpsertCommand(Contract):
    """One client record, validated and normalized, bound to its store and source."""

    request_id: CleanStr = Field(max_length=128)
    store_id: UUID
    integration_key_id: UUID | None = None
    import_job_id: UUID | None = Field(default=None, description="the import it comes from")
    source_label: CleanStr | None = None
    external_id: CleanStr | None = None
    email: CleanStr | None = Field(default=None, description="as entered, trimmed")
    email_key: CleanStr | None = Field(default=None, description="trimmed, NFC, case-folded")
    phone: CleanStr | None = Field(default=None, description="E.164")
    name: CleanStr
    first_name: CleanStr | None = None
    last_name: CleanStr | None = None
    company: CleanStr | None = None
    type: ClientType | None = Field(default=None, description="absent: retail on create")
    tags: list[CleanStr] = Field(default_factory=list)
    notes: CleanStr | None = None
    accepts_marketing: bool | None = Field(default=None, description="given: the client's "
                                           "consent from now on; absent: kept")
    addresses: list[TypedAddress] = Field(default_factory=list, description="saved with the "
                                          "client unless equal ones are there (not on skip)")
    date_of_birth: date | None = None
    allergies: CleanStr | None = None
    customer_since: date | None = None
    preferred_contact: CleanStr | None = None
    discovery_source: CleanStr | None = None
    referral_details: CleanStr | None = None
    instagram: CleanStr | None = None
    facebook: CleanStr | None = None
    currency: CleanStr | None = None
    qbo_id: CleanStr | None = None
    wholesale_terms: CleanStr | None = None
    tax_exempt: bool | None = None
    resale_certificate: CleanStr | None = None
    resale_certificate_expires_on: date | None = None
    is_consignor: bool | None = None
    consignor_code: CleanStr | None = None
    on_match: OnMatch = "fill"
    received_at: datetime


class UpsertResult(Contract):
    request_id: str
    store_id: UUID | None
    client_id: UUID | None
    outcome: Outcome
    duplicate: bool
    errors: list[FieldError] = Field(default_factory=list)

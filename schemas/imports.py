"""`clients.import.chunks.v1` (a slice of a CSV/XLSX file) and `clients.import.progress.v1`."""

from typing import Literal
from uuid import UUID

from pydantic import Field

from schemas.common import Contract
from schemas.profiles import ProfileFields

ImportMode = Literal["skip", "update"]
# The profile fields a file (or ingest) sets (schemas/profiles.py). The wholesale ones need the
# row's type wholesale, a consignor code the row's consignor flag; the consigned-items count,
# the hierarchy and the master data are set through the API.
IMPORTED_PROFILE = tuple(ProfileFields.model_fields)
# Every column an import takes, as `clients import template` writes it and the export writes
# it: (client field, header). The importer also reads each header's synonyms.
COLUMNS = (("name", "Name"), ("first_name", "First Name"), ("last_name", "Last Name"),
           ("email", "Email"), ("phone", "Phone"), ("company", "Company"), ("type", "Type"),
           ("tags", "Tags"), ("notes", "Notes"), ("external_id", "External ID"),
           ("accepts_marketing", "Accepts Marketing"), ("address1", "Address 1"),
           ("address2", "Address 2"), ("city", "City"), ("state", "State"), ("pincode", "Zip"),
           ("country", "Country"), ("date_of_birth", "Date of Birth"),
           ("allergies", "Allergies"), ("customer_since", "Customer Since"),
           ("preferred_contact", "Preferred Contact Method"),
           ("discovery_source", "Discovery Source"), ("referral_details", "Referral Details"),
           ("instagram", "Instagram"), ("facebook", "Facebook"), ("currency", "Currency"),
           ("qbo_id", "QBO ID"), ("wholesale_terms", "Wholesale Terms"),
           ("tax_exempt", "Tax Exempt"), ("resale_certificate", "Resale Certificate"),
           ("resale_certificate_expires_on", "Resale Certificate Expires"),
           ("is_consignor", "Consignor"), ("consignor_code", "Consignor Code"))
RowStatus = Literal["created", "updated", "skipped", "failed"]


class ImportRow(Contract):
    row: int = Field(description="as a spreadsheet shows it: the header is row 1")
    fields: dict[str, str] = Field(description="client field -> the cell's text")


class ImportChunk(Contract):
    job_id: UUID
    chunk_no: int
    store_id: UUID
    region: str
    mode: ImportMode
    source_label: str
    columns: dict[str, str] = Field(description="client field -> the file's column header")
    rows: list[ImportRow]


class ImportProgress(Contract):
    job_id: UUID
    processed: int
    total: int | None = Field(description="unknown until the whole file has been read")
    created: int
    updated: int
    skipped: int
    failed: int
    done: bool

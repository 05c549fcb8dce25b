"""`clients.import.chunks.v1` (a slice of a CSV/XLSX file) and `clients.import.progress.v1`."""

from typing import Literal
from uuid import UUID

from pydantic import Field

from schemas.common import Contract

ImportMode = Literal["skip", "update"]
# The profile fields a file imports (schemas/profiles.py); the wholesale, consignor, hierarchy
# and master-data ones are set through the API, where their rules are checked against the
# client as it is.
IMPORTED_PROFILE = ("date_of_birth", "allergies", "customer_since", "preferred_contact",
                    "discovery_source", "referral_details", "instagram", "facebook",
                    "currency", "qbo_id")
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
           ("qbo_id", "QBO ID"))
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

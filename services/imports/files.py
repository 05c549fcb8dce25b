"""Reading import files as a stream of rows, and mapping their headers onto client fields.

CSV (UTF-8, with or without BOM; comma, semicolon or tab, detected from the header line) and
.xlsx (streamed, read-only). Headers match case-, space- and punctuation-insensitively, with
synonyms, so a Shopify customers export or a HubSpot contacts export imports without editing.
"""

import csv
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from services.imports.errors import UnreadableFileError

# client field -> header spellings (normalized: lower-case letters and digits), best first
SYNONYMS: dict[str, tuple[str, ...]] = {
    "email": ("email", "emailaddress", "mail", "emailaddresses", "primaryemail"),
    "name": ("name", "fullname", "customername", "contactname", "clientname"),
    "first_name": ("firstname", "givenname", "first", "forename"),
    "last_name": ("lastname", "surname", "familyname", "last"),
    "phone": ("phone", "phonenumber", "mobile", "mobilephone", "mobilephonenumber", "cell",
              "cellphone", "telephone", "tel", "defaultaddressphone"),
    "external_id": ("externalid", "customerid", "recordid", "contactid", "clientid", "id"),
    "company": ("company", "companyname", "organization", "organisation", "business",
                "defaultaddresscompany"),
    "tags": ("tags", "tag", "labels"),
    "notes": ("notes", "note", "comments", "comment"),
    "type": ("type", "customertype", "clienttype"),
    "accepts_marketing": ("acceptsmarketing", "acceptsemailmarketing", "marketingconsent",
                          "emailmarketingconsent", "marketingemails"),
    # an address (imported as a shipping address): Shopify's "Default Address …", HubSpot's
    # "Street Address", "State/Region", "Postal Code", "Country/Region"
    "address1": ("address1", "defaultaddressaddress1", "streetaddress", "address",
                 "addressline1", "street"),
    "address2": ("address2", "defaultaddressaddress2", "addressline2"),
    "city": ("city", "defaultaddresscity", "town"),
    "state": ("state", "province", "stateregion", "defaultaddressprovincecode",
              "defaultaddressprovince", "region", "county"),
    "pincode": ("zip", "zipcode", "postalcode", "postcode", "pincode", "defaultaddresszip"),
    "country": ("country", "countryregion", "defaultaddresscountrycode",
                "defaultaddresscountry"),
    # profile columns (schemas.imports.IMPORTED_PROFILE)
    "date_of_birth": ("dateofbirth", "dob", "birthday", "birthdate"),
    "allergies": ("allergies", "allergy"),
    "customer_since": ("customersince", "clientsince"),
    "preferred_contact": ("preferredcontactmethod", "preferredcontact", "contactmethod"),
    "discovery_source": ("discoverysource", "howdidyoufindus", "howdidyouhearaboutus"),
    "referral_details": ("referraldetails", "referral", "referredby"),
    "instagram": ("instagram", "instagramhandle", "ig"),
    "facebook": ("facebook", "facebookurl", "facebookprofile", "fb"),
    "currency": ("currency",),
    "qbo_id": ("qboid", "quickbooksid", "qbo"),
    "wholesale_terms": ("wholesaleterms", "paymentterms", "terms"),
    "tax_exempt": ("taxexempt", "taxexemption"),
    "resale_certificate": ("resalecertificate", "resalecert"),
    "resale_certificate_expires_on": ("resalecertificateexpires", "resalecertificateexpiry",
                                      "resalecertificateexpireson"),
    "is_consignor": ("consignor", "isconsignor"),
    "consignor_code": ("consignorcode",),
}
# The fields above that make an address, not a client field.
ADDRESS_FIELDS = ("address1", "address2", "city", "state", "pincode", "country")


class UnknownFieldError(ValueError):
    """A `--map` that names no importable field, or no column of the file."""

    def __init__(self, name: str, header: bool = False) -> None:
        super().__init__(f"--map: the file has no column {name!r}" if header else
                         f"--map: {name!r} is not an importable field (one of "
                         f"{', '.join(SYNONYMS)})")


def normalize_header(header: str) -> str:
    return re.sub(r"[^a-z0-9]", "", header.lower())


@dataclass(frozen=True)
class Mapping:
    index: dict[str, int]       # client field -> column position
    columns: dict[str, str]     # client field -> the header as the file spells it
    unmapped: list[str]         # headers we do not import

    def missing(self) -> list[str]:
        """What the header cannot satisfy (seed 000: a name and one of email or phone)."""
        gaps = []
        if not {"name", "first_name", "last_name"} & self.index.keys():
            gaps.append("a name column (Name, Full Name, or First Name / Last Name)")
        if not {"email", "phone"} & self.index.keys():
            gaps.append("an email or phone column")
        return gaps


def map_header(header: list[str], explicit: dict[str, str] | None = None) -> Mapping:
    """Each field to its column: `explicit` first (header -> field, as `--map "Cell=phone"`
    gives it: it overrides the synonyms), then the best synonym present."""
    normalized = [normalize_header(h) for h in header]
    index: dict[str, int] = {}
    for given, field in (explicit or {}).items():
        if field not in SYNONYMS:
            raise UnknownFieldError(field)
        if normalize_header(given) not in normalized:
            raise UnknownFieldError(given, header=True)
        index[field] = normalized.index(normalize_header(given))
    for field, spellings in SYNONYMS.items():
        for spelling in spellings:  # the best spelling present wins (Phone over Default Phone)
            if field not in index and spelling in normalized \
                    and normalized.index(spelling) not in index.values():
                index[field] = normalized.index(spelling)
                break
    used = set(index.values())
    return Mapping(index=index, columns={f: header[i] for f, i in index.items()},
                   unmapped=[h for i, h in enumerate(header) if i not in used and h.strip()])


@contextmanager
def open_table(path: Path) -> Iterator[tuple[list[str], Iterator[list[str]]]]:
    """(header, data rows) of a CSV or XLSX file, streamed."""
    if path.suffix.lower() == ".xlsx":
        with _xlsx(path) as table:
            yield table
        return
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            first = f.readline()
            # Only the delimiter is guessed, from the header line; quoting is RFC 4180's. (A
            # sniffed header without quotes said doublequote=False, and a quoted field with
            # "" in it, as our own export writes, came back cut.)
            try:
                delimiter = csv.Sniffer().sniff(first, delimiters=",;\t").delimiter
            except csv.Error:
                delimiter = ","
            f.seek(0)
            if f.read(1) != "\ufeff":
                f.seek(0)
            reader = csv.reader(f, csv.excel, delimiter=delimiter)
            header = next(reader, None)
            if not header:
                raise UnreadableFileError(path, "the file is empty; a header row is required")
            yield [h.strip() for h in header], reader
    except UnicodeDecodeError as e:
        raise UnreadableFileError(path, f"not UTF-8 text ({e.reason} at byte {e.start})") from e


@contextmanager
def _xlsx(path: Path) -> Iterator[tuple[list[str], Iterator[list[str]]]]:
    import openpyxl  # only for .xlsx files

    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        rows = book.active.iter_rows(values_only=True) if book.active else iter(())
        first = next(rows, None)
        if not first:
            raise UnreadableFileError(path, "the sheet is empty; a header row is required")
        yield [_cell(v).strip() for v in first], ([_cell(v) for v in r] for r in rows)
    finally:
        book.close()


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a phone number or id typed as a number
    return str(value)

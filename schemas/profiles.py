"""Profile fields beyond identity (seeds 000, 002, 003): date of birth and allergies (personal
data: exported and erased), wholesale terms, the relationship, the consignor, social profiles.
Each value is normalized here, so every writer stores the same form."""

import re
from datetime import date
from typing import Annotated, Literal
from urllib.parse import urlsplit

import phonenumbers
from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints, field_validator

from schemas.common import Contract, Text, blank_to_none

WholesaleTerms = Literal["net_15", "net_30", "net_60"]
ContactMethod = Literal["email", "phone", "text", "no_preference"]
DiscoverySource = Literal["instagram", "referral", "walk_in", "show_fair", "website", "other"]
PROFILE_FIELDS = ("date_of_birth", "allergies", "wholesale_terms", "tax_exempt",
                  "resale_certificate", "resale_certificate_expires_on", "customer_since",
                  "preferred_contact", "discovery_source", "referral_details", "is_consignor",
                  "consignor_code", "consigned_items", "instagram", "facebook", "parent_id",
                  "country", "currency", "qbo_id")
# Only a wholesale client has these (seed 003).
WHOLESALE_FIELDS = ("wholesale_terms", "tax_exempt", "resale_certificate",
                    "resale_certificate_expires_on")

HANDLE = re.compile(r"[A-Za-z0-9._]{1,30}")
INSTAGRAM_HOSTS = ("instagram.com", "www.instagram.com", "instagr.am")


def choice(value: object) -> object:
    """"Net 30", "Walk-in", "Show/Fair", "No Preference" -> net_30, walk_in, show_fair, …"""
    if isinstance(value, str):
        return re.sub(r"[\s/-]+", "_", value.strip().lower())
    return value


def instagram_handle(value: str) -> str:
    """A handle, @handle or profile URL -> the handle."""
    text = value.strip()
    if "/" in text:
        parts = urlsplit(text if "://" in text else "https://" + text)
        if parts.hostname not in INSTAGRAM_HOSTS:
            raise ValueError("not an Instagram profile URL")
        text = parts.path.strip("/").split("/")[0]
    text = text.removeprefix("@")
    if not HANDLE.fullmatch(text):
        raise ValueError("an Instagram handle is 1-30 letters, digits, dots or underscores")
    return text


def facebook_url(value: str) -> str:
    """A URL, https:// prepended when it has no scheme."""
    text = value.strip()
    url = text if re.match(r"(?i)https?://", text) else "https://" + text
    parts = urlsplit(url)
    if not parts.hostname or "." not in parts.hostname or " " in url:
        raise ValueError("not a URL")
    return url


def consignor_code(value: str) -> str:
    code = value.strip().upper()
    if not re.fullmatch(r"[A-Z0-9]{1,6}", code):
        raise ValueError("a consignor code is 1-6 letters or digits")
    return code


def country_code(value: str) -> str:
    """ISO 3166-1 alpha-2, as the phone-number library knows the regions."""
    code = value.strip().upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError("not an ISO 3166-1 alpha-2 country code")
    return code


def currency_code(value: str) -> str:
    code = value.strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", code):
        raise ValueError("an ISO 4217 currency code is three letters")
    return code


def past_date(value: date) -> date:
    if value > date.today() or value.year < 1900:
        raise ValueError("must be a date between 1900 and today")
    return value


Instagram = Annotated[Text, StringConstraints(max_length=200), AfterValidator(instagram_handle)]
Facebook = Annotated[Text, StringConstraints(max_length=500), AfterValidator(facebook_url)]
ConsignorCode = Annotated[Text, StringConstraints(max_length=6), AfterValidator(consignor_code)]
PastDate = Annotated[date, AfterValidator(past_date)]
Allergies = Annotated[Text, StringConstraints(max_length=2000)]
Reference = Annotated[Text, StringConstraints(max_length=500)]
Terms = Annotated[WholesaleTerms, BeforeValidator(choice)]
Contact = Annotated[ContactMethod, BeforeValidator(choice)]
Discovery = Annotated[DiscoverySource, BeforeValidator(choice)]
Country = Annotated[Text, StringConstraints(max_length=2), AfterValidator(country_code)]
Currency = Annotated[Text, StringConstraints(max_length=3), AfterValidator(currency_code)]
QboId = Annotated[Text, StringConstraints(min_length=1, max_length=64)]
Referral = Annotated[Text, StringConstraints(max_length=2000)]


class ProfileFields(Contract):
    """The profile fields ingest, imports and updates all take (left out or null: none given;
    a blank string counts as null). Updates take a few more (schemas/commands.py)."""

    date_of_birth: PastDate | None = None
    allergies: Allergies | None = None
    customer_since: PastDate | None = None
    preferred_contact: Contact | None = None
    discovery_source: Discovery | None = Field(default=None, description="\"Walk-in\" is read "
                                               "as walk_in")
    referral_details: Referral | None = None
    instagram: Instagram | None = Field(default=None, description="a handle, @handle or "
                                        "profile URL: the handle is kept")
    facebook: Facebook | None = Field(default=None, description="a URL (https:// prepended "
                                      "when missing)")
    currency: Currency | None = Field(default=None, description="ISO 4217")
    qbo_id: QboId | None = Field(default=None, description="the QuickBooks Online id")
    wholesale_terms: Terms | None = Field(default=None, description="net_15, net_30, net_60 "
                                          "(\"Net 30\" is read as net_30); wholesale clients "
                                          "only")
    tax_exempt: bool | None = Field(default=None, description="wholesale clients only")
    resale_certificate: Reference | None = Field(default=None, description="its file name or "
                                                 "URL; wholesale clients only")
    resale_certificate_expires_on: date | None = None
    is_consignor: bool | None = Field(default=None, description="cannot be turned off while "
                                      "consigned items reference the client")
    consignor_code: ConsignorCode | None = Field(default=None, description="1-6 letters or "
                                                 "digits, upper-cased; consignors only")

    @field_validator("date_of_birth", "allergies", "customer_since", "preferred_contact",
                     "discovery_source", "referral_details", "instagram", "facebook",
                     "currency", "qbo_id", "wholesale_terms", "tax_exempt", "resale_certificate",
                     "resale_certificate_expires_on", "is_consignor", "consignor_code",
                     mode="before")
    @classmethod
    def _blank_profile(cls, value: object) -> object:  # not _blank: subclasses have their own
        return blank_to_none(value)

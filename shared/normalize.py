"""From what a source said to a normalized command: email key, E.164 phone, names.

The email key is the identity inside a store: trimmed, NFC-normalized, case-folded. The address
itself is kept as entered (trimmed). Gmail dots and plus tags are not folded: at other providers
they are different people.
"""

import re
import unicodedata
from datetime import datetime
from functools import lru_cache
from typing import Any

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from pydantic import ValidationError

from schemas.common import FieldError
from schemas.imports import IMPORTED_PROFILE
from schemas.ingest import RULE_FIELDS, ClientFields
from schemas.upsert import OnMatch, UpsertCommand
from shared.redact import redact_text


class InvalidRecordError(ValueError):
    """The record cannot become a command; `errors` names each offending field."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors


def email_key(email: str) -> str:
    return unicodedata.normalize("NFC", email.strip()).casefold()


# RFC 5322's dot-atom of ASCII characters: every such local part passes email_validator's local
# part check (its own first test is this pattern), so only the domain needs the full validator.
_DOT_ATOM = re.compile(r"[A-Za-z0-9_!#$%&'*+\-/=?^`{|}~]+(?:\.[A-Za-z0-9_!#$%&'*+\-/=?^`{|}~]+)*\Z")


@lru_cache(maxsize=65_536)
def check_email(email: str) -> str | None:
    """None when acceptable, else why not (syntax only: no DNS). Remembered: the same people
    come back (orders, re-sent records). For a new address the validator is the largest Python
    cost of a record (a third of an order batch's, `bench.orders` under cProfile; 12% of an
    ingest worker, `bench.ingest --profile`), most of it in the domain: the common address (ASCII,
    a dot-atom before the @, a domain already found good) is answered from the domain's verdict,
    which is what the full validator answers for it; anything else goes through the validator.
    A pure function of the text: at most ~20 MB for the cache at its 65,536 entries."""
    local, at, domain = email.rpartition("@")
    if (at and email.isascii() and len(email) <= 254 and len(local) <= 64
            and _DOT_ATOM.match(local) and _good_domain(domain)):
        return None
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError as e:
        return str(e)
    return None


@lru_cache(maxsize=16_384)
def _good_domain(domain: str) -> bool:
    try:
        validate_email("postmaster@" + domain, check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


def to_e164(phone: str, region: str) -> str | None:
    """E.164 for a possible number in `region` (or with its own +country code), else None."""
    try:
        number = phonenumbers.parse(phone, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def split_name(full: str) -> tuple[str, str | None]:
    """'Jane van Doe' -> ('Jane', 'van Doe'); 'Cher' -> ('Cher', None)."""
    first, _, rest = full.strip().partition(" ")
    return first, rest.strip() or None


def field_errors(error: ValidationError) -> list[FieldError]:
    out = []
    for e in error.errors():
        message = str(e["msg"]).removeprefix("Value error, ")
        field = ".".join(str(p) for p in e["loc"]) or RULE_FIELDS.get(message, "record")
        if e["type"] == "extra_forbidden":
            message = "unknown field"
        out.append(FieldError(field=field, message=message))
    return out


# At most this many field errors in an answer, each this long: 30,000 unknown keys are one answer
# that fits in a Kafka message or a response.
MAX_ERRORS = 50
MAX_ERROR_TEXT = 300


def bounded_errors(errors: list[FieldError]) -> list[FieldError]:
    """At most MAX_ERRORS errors of bounded length, tokens redacted, and encodable as UTF-8
    (a field named by a lone surrogate comes back escaped)."""
    def text(s: str) -> str:
        s = redact_text(s[:MAX_ERROR_TEXT])
        return s.encode("utf-8", "backslashreplace").decode("utf-8")
    out = [FieldError(field=text(e.field), message=text(e.message)) for e in errors[:MAX_ERRORS]]
    if len(errors) > MAX_ERRORS:
        out.append(FieldError(field="record",
                              message=f"and {len(errors) - MAX_ERRORS} more errors"))
    return out


def checked_contact(email: str | None, phone: str | None, region: str
                    ) -> tuple[str | None, list[FieldError]]:
    """The phone in E.164, and what is wrong with the email and the phone (deliverable
    syntax; a possible number in the store's region)."""
    errors: list[FieldError] = []
    if email is not None and (why := check_email(email)):
        errors.append(FieldError(field="email", message=why))
    e164 = None
    if phone is not None:
        e164 = to_e164(phone, region)
        if e164 is None:
            errors.append(FieldError(field="phone",
                                     message=f"not a possible phone number in region {region}"))
    return e164, errors


def to_command(fields: ClientFields, *, request_id: str, store_id: Any, region: str,
               integration_key_id: Any = None, source_label: str | None = None,
               on_match: OnMatch = "fill", received_at: datetime) -> UpsertCommand:
    """Normalize validated fields for one store. Raises InvalidRecordError."""
    errors: list[FieldError] = []
    if fields.store_id is not None and fields.store_id != store_id:
        errors.append(FieldError(field="store_id",
                                 message="does not match the integration key's store"))
    phone, contact = checked_contact(fields.email, fields.phone, region)
    errors += contact
    if errors:
        raise InvalidRecordError(errors)

    first, last = fields.first_name, fields.last_name
    if fields.name is not None:
        name = fields.name
        if first is None and last is None:
            first, last = split_name(name)
    else:
        name = " ".join(p for p in (first, last) if p)
    return UpsertCommand(
        request_id=request_id, store_id=store_id, integration_key_id=integration_key_id,
        source_label=source_label, external_id=fields.external_id,
        email=fields.email, email_key=email_key(fields.email) if fields.email else None,
        phone=phone, name=name, first_name=first, last_name=last, company=fields.company,
        type=fields.type if "type" in fields.model_fields_set else None, tags=fields.tags,
        notes=fields.notes, accepts_marketing=fields.accepts_marketing,
        addresses=fields.addresses, on_match=on_match,
        **{f: getattr(fields, f) for f in IMPORTED_PROFILE},
        received_at=received_at)

"""Addresses, shared by the orders service (addresses orders bring) and the commands service
(the addresses API): when two are the same, and the columns they are written with."""

import unicodedata

from schemas.orders import Address

FIELDS = ("first_name", "last_name", "company", "address1", "address2", "city", "state",
          "pincode", "country", "phone")


def fingerprint(a: Address) -> str:
    """An address as compared for equality: each part case-folded, accents and spacing and
    punctuation aside ("12, Main St." = "12 main st"); names and phone do not make another
    address."""
    parts = [a.address1, a.address2, a.city, a.state, a.pincode, a.country]
    text = "|".join(p or "" for p in parts)
    folded = unicodedata.normalize("NFKD", text).casefold()
    return "".join(ch for ch in folded if ch.isalnum() or ch == "|")

"""What a new client's audit entry names: every field it was created with, and only those."""

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

from shared import audit


def test_a_created_entry_names_each_field_given_and_no_empty_one() -> None:
    segment = uuid.uuid4()
    snapshot = dict.fromkeys(audit.AUDITED) | {
        "name": "Ada", "tags": [], "external_ids": {}, "accepts_marketing": False,
        "notes": "", "credit_limit": Decimal("0"), "customer_segment_id": segment,
        "status": "ACTIVE", "type": "retail"}
    assert audit.created(snapshot) == {
        "name": [None, "Ada"], "notes": [None, ""], "credit_limit": [None, Decimal("0")],
        "customer_segment_id": [None, segment], "status": [None, "ACTIVE"],
        "type": [None, "retail"]}
    assert audit.created(snapshot | {"tags": ["vip"], "accepts_marketing": True}) \
        .keys() >= {"tags", "accepts_marketing"}


def test_entries_are_stored_as_json_values() -> None:
    segment, when = uuid.uuid4(), datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
    stored = audit._jsonable({"customer_segment_id": [None, segment],
                              "credit_limit": [Decimal("1.50"), Decimal("2")],
                              "date_of_birth": [date(1990, 5, 1), None],
                              "marketing_consent_at": [None, when],
                              "tags": [["a"], ["a", "b"]], "accepts_marketing": [False, True]})
    assert stored == {"customer_segment_id": [None, str(segment)],
                      "credit_limit": ["1.50", "2"], "date_of_birth": ["1990-05-01", None],
                      "marketing_consent_at": [None, str(when)],
                      "tags": [["a"], ["a", "b"]], "accepts_marketing": [False, True]}

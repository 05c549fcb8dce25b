"""The contracts: generated documents are current, and the normalization rules hold."""

import unicodedata
from datetime import UTC, datetime
from uuid import uuid4

import pytest
from pydantic import ValidationError

from schemas import generate
from schemas.ingest import ClientFields, IngestRecord
from shared.normalize import (
    InvalidRecordError,
    email_key,
    field_errors,
    split_name,
    to_command,
    to_e164,
)


def test_generated_json_schema_and_asyncapi_are_current() -> None:
    for name, text in generate.documents().items():
        path = generate.OUT / name
        assert path.exists(), f"{name} missing: run python -m schemas.generate"
        assert path.read_text() == text, f"{name} is stale: run python -m schemas.generate"
    assert {p.name for p in generate.OUT.glob("*.json")} == set(generate.documents())


def test_asyncapi_names_every_topic_with_a_payload() -> None:
    doc = generate.asyncapi()
    addresses = {c["address"] for c in doc["channels"].values()}
    assert addresses == set(generate.CHANNELS)
    assert set(doc["components"]["schemas"]) >= {"IngestRecord", "ClientEvent", "DeadLetter"}


@pytest.mark.parametrize(("a", "b"), [
    ("Jane@Example.com", "jane@example.com"),
    ("  jane@example.com\t", "JANE@EXAMPLE.COM"),
    (unicodedata.normalize("NFD", "zoë@example.com"),
     unicodedata.normalize("NFC", "ZOË@example.com")),
    ("Straße@example.com", "STRASSE@example.com"),  # case-folded, not merely lower-cased
])
def test_email_key_is_trimmed_nfc_casefolded(a: str, b: str) -> None:
    assert email_key(a) == email_key(b)


@pytest.mark.parametrize(("a", "b"), [("jane.doe@gmail.com", "janedoe@gmail.com"),
                                      ("jane+shop@gmail.com", "jane@gmail.com")])
def test_gmail_dots_and_plus_tags_are_not_folded(a: str, b: str) -> None:
    assert email_key(a) != email_key(b)


@pytest.mark.parametrize(("raw", "region", "e164"), [
    ("(415) 555-2671", "US", "+14155552671"),
    ("020 7946 0958", "GB", "+442079460958"),
    ("+44 20 7946 0958", "US", "+442079460958"),
    ("12", "US", None),
    ("call me", "US", None),
])
def test_phones_become_e164_in_the_stores_region(raw: str, region: str, e164: str | None) -> None:
    assert to_e164(raw, region) == e164


def test_names_split_and_join() -> None:
    assert split_name("Jane van Doe") == ("Jane", "van Doe")
    assert split_name("Cher") == ("Cher", None)
    cmd = to_command(ClientFields(first_name="Ada", last_name="Lovelace", email="a@b.com"),
                     request_id="r", store_id=uuid4(), region="US",
                     received_at=datetime.now(UTC))
    assert cmd.name == "Ada Lovelace"


def test_tags_are_trimmed_lowercased_deduplicated_and_limited() -> None:
    fields = ClientFields(email="a@b.com", name="N", tags=[" VIP", "vip ", "", "Net-30"])
    assert fields.tags == ["vip", "net-30"]
    with pytest.raises(ValidationError):
        ClientFields(email="a@b.com", name="N", tags=["x"] * 251)
    with pytest.raises(ValidationError):
        ClientFields(email="a@b.com", name="N", tags=["x" * 256])


@pytest.mark.parametrize(("field", "value"), [("email", "x" * 250 + "@b.co"),
                                              ("name", "n" * 101), ("notes", "n" * 2001),
                                              ("external_id", "e" * 256)])
def test_length_limits_name_the_field(field: str, value: str) -> None:
    with pytest.raises(ValidationError) as e:
        ClientFields.model_validate({"email": "a@b.com", "name": "N", field: value})
    assert field in [x.field for x in field_errors(e.value)]


def test_unknown_fields_are_refused_by_name() -> None:
    with pytest.raises(ValidationError) as e:
        IngestRecord.model_validate({"integration_key": "k", "email": "a@b.com", "name": "N",
                                     "nickname": "x"})
    assert [(x.field, x.message) for x in field_errors(e.value)] == [("nickname", "unknown field")]


def test_a_store_id_that_is_not_the_keys_store_is_refused() -> None:
    with pytest.raises(InvalidRecordError) as e:
        to_command(ClientFields(email="a@b.com", name="N", store_id=uuid4()), request_id="r",
                   store_id=uuid4(), region="US", received_at=datetime.now(UTC))
    assert [x.field for x in e.value.errors] == ["store_id"]


def test_an_update_command_keeps_left_out_fields_left_out_on_the_wire() -> None:
    """A field left out of `update` is kept, one given as null is cleared: the difference must
    survive the trip through Kafka (JSON), or every field not given would be cleared."""
    from schemas.commands import ClientCommand

    sent = ClientCommand.model_validate({
        "command_id": "c1", "store_id": "00000000-0000-0000-0000-000000000001",
        "action": "update", "client_id": "00000000-0000-0000-0000-000000000002",
        "actor": {"type": "system"}, "changes": {"company": "Acme", "phone": None}})
    received = ClientCommand.model_validate_json(sent.model_dump_json())
    assert received.changes is not None
    assert received.changes.model_fields_set == {"company", "phone"}

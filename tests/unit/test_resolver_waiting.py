"""Which commands of a batch wait for another transaction that holds one of its external ids:
those of that external id and every command about the same person (or the same request), so
the person's records keep their order; everybody else goes on."""

import uuid
from datetime import UTC, datetime

from schemas.upsert import UpsertCommand
from shared.resolver import _with_their_people

STORE, KEY = uuid.uuid4(), uuid.uuid4()


def cmd(request_id: str, email: str | None = None, ext: str | None = None) -> UpsertCommand:
    return UpsertCommand(request_id=request_id, store_id=STORE, integration_key_id=KEY,
                         email=email, email_key=email.lower() if email else None,
                         external_id=ext, name="Jane", received_at=datetime.now(UTC))


def test_the_busy_external_ids_commands_and_their_people_wait_in_order() -> None:
    batch = [cmd("r0", "free@x.com", "e-free"),
             cmd("r1", "ann@x.com", "e-busy"),       # the busy external id
             cmd("r2", "ANN@x.com"),                  # same email as r1
             cmd("r3", "other@x.com", "e-other"),
             cmd("r4", "ann.new@x.com", "e-busy"),    # the busy id again, another email
             cmd("r5", "ann.new@x.com", "e-new"),     # r4's email: the same person
             cmd("r1", "someone@x.com"),              # r1's request id again
             cmd("r7", "stranger@x.com", "e-new-2")]
    assert _with_their_people(batch, {(KEY, "e-busy")}) == [1, 2, 4, 5, 6]


def test_nothing_waits_when_no_command_has_a_busy_external_id() -> None:
    batch = [cmd("r0", "a@x.com", "e-1"), cmd("r1", "b@x.com")]
    assert _with_their_people(batch, {(KEY, "e-9")}) == []
    assert _with_their_people(batch, {(uuid.uuid4(), "e-1")}) == []  # another key's e-1

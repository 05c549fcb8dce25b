"""The forward-only rule and the provider status maps (pure functions)."""

import pytest

from services.delivery.resend import state_of as resend_state
from services.delivery.sendblue import state_of as sendblue_state
from services.delivery.states import forward


@pytest.mark.parametrize(("current", "arriving", "result"), [
    ("queued", "sent", "sent"), ("queued", "delivered", "delivered"),
    ("sent", "delivered", "delivered"), ("sent", "failed", "failed"),
    ("delivered", "sent", "delivered"), ("delivered", "queued", "delivered"),
    ("delivered", "failed", "delivered"), ("failed", "delivered", "failed"),
    ("sent", "queued", "sent"), ("sent", None, "sent"), ("received", "sent", "received")])
def test_states_only_move_forward_and_terminal_ones_stay(current: str, arriving: str | None,
                                                         result: str) -> None:
    assert forward(current, arriving) == result


@pytest.mark.parametrize(("status", "state"), [
    ("QUEUED", "queued"), ("SENT", "sent"), ("DELIVERED", "delivered"), ("READ", "delivered"),
    ("ERROR", "failed"), ("delivered", "delivered"), ("SOMETHING_NEW", None)])
def test_sendblue_statuses(status: str, state: str | None) -> None:
    assert sendblue_state({"status": status})[0] == state


def test_a_sendblue_error_keeps_the_providers_message() -> None:
    assert sendblue_state({"status": "ERROR", "error_message": "unreachable"}) == \
        ("failed", "unreachable")


@pytest.mark.parametrize(("kind", "state"), [
    ("email.sent", "sent"), ("email.delivered", "delivered"),
    ("email.delivery_delayed", None), ("email.bounced", "failed"),
    ("email.complained", "delivered"), ("email.failed", "failed"), ("email.opened", "delivered")])
def test_resend_events(kind: str, state: str | None) -> None:
    assert resend_state({"type": kind, "data": {}})[0] == state


def test_a_bounce_keeps_its_reason() -> None:
    assert resend_state({"type": "email.bounced", "data": {"bounce": {
        "message": "mailbox does not exist"}}}) == ("failed", "mailbox does not exist")

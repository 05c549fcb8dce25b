"""Provider statuses onto our states, and the forward-only rule (invariant 8).

queued -> sent -> delivered | failed. A state only replaces a lower one; delivered and failed
are terminal (whichever comes first stays). A status that says nothing about delivery
(delivery_delayed, opened, clicked …) maps to None: kept in the log, the state is unchanged.
"""

from typing import Any

RANK = {"queued": 0, "sent": 1, "delivered": 2, "failed": 2}
TERMINAL = frozenset({"delivered", "failed"})

SENDBLUE = {
    "REGISTERED": "queued", "PENDING": "queued", "QUEUED": "queued",
    "ACCEPTED": "sent", "SENT": "sent",
    "DELIVERED": "delivered", "READ": "delivered",
    "ERROR": "failed", "FAILED": "failed", "DECLINED": "failed",
}
RESEND = {
    "email.scheduled": "queued",
    "email.sent": "sent",
    "email.delivered": "delivered",
    "email.opened": "delivered", "email.clicked": "delivered",
    # a complaint is about a delivered email
    "email.complained": "delivered",
    "email.bounced": "failed", "email.failed": "failed", "email.suppressed": "failed",
    # email.delivery_delayed: still on its way; nothing moves
}


def forward(current: str, candidate: str | None) -> str:
    """The state after `candidate` arrives: only ever forward, never out of a terminal."""
    if candidate is None or current in TERMINAL or current not in RANK:
        return current
    return candidate if RANK[candidate] > RANK[current] else current


def sendblue_state(payload: dict[str, Any]) -> tuple[str | None, str | None]:
    """(our state, error) for a SendBlue status callback or send response."""
    status = str(payload.get("status") or "").upper()
    state = SENDBLUE.get(status)
    error = payload.get("error_message") or payload.get("error_detail")
    return state, (str(error) if state == "failed" and error else
                   (f"SendBlue {status}" if state == "failed" else None))


def resend_state(payload: dict[str, Any]) -> tuple[str | None, str | None]:
    kind = str(payload.get("type") or "")
    state = RESEND.get(kind)
    error = None
    if state == "failed":
        data = payload.get("data") or {}
        detail = data.get("bounce") or data.get("failed") or {}
        error = (detail.get("message") if isinstance(detail, dict) else None) or kind
    return state, error

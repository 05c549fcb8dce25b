"""The forward-only rule of delivery states (invariant 8); each provider maps its statuses
onto these states in its own module (sendblue.py, resend.py).

queued -> sent -> delivered | failed. A state only replaces a lower one; delivered and failed
are terminal (whichever comes first stays). A status that says nothing about delivery
(delivery_delayed, opened, clicked …) maps to None: kept in the log, the state is unchanged.
"""

RANK = {"queued": 0, "sent": 1, "delivered": 2, "failed": 2}
TERMINAL = frozenset({"delivered", "failed"})

def forward(current: str, candidate: str | None) -> str:
    """The state after `candidate` arrives: only ever forward, never out of a terminal."""
    if candidate is None or current in TERMINAL or current not in RANK:
        return current
    return candidate if RANK[candidate] > RANK[current] else current

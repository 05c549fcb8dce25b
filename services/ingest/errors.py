from schemas.common import FieldError
from schemas.dlq import Reason


class RejectedError(Exception):
    """A record that cannot be ingested, and why. It goes to the dead-letter topic."""

    def __init__(self, reason: Reason, errors: list[FieldError]) -> None:
        super().__init__(f"{reason}: " + "; ".join(f"{e.field}: {e.message}" for e in errors))
        self.reason = reason
        self.errors = errors

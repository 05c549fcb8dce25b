"""What the commands service refuses, and why."""

from typing import Any

from schemas.commands import Outcome
from schemas.common import FieldError


class Refused(Exception):
    """The command cannot apply: its outcome and why."""

    def __init__(self, outcome: Outcome, field: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.outcome, self.error, self.extra = outcome, FieldError(field=field,
                                                                   message=message), extra

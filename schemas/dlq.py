"""`clients.ingest.dlq.v1`: rejected input with its reason; nothing else was written."""

from datetime import datetime
from typing import Any, Literal

from schemas.common import Contract, FieldError

Reason = Literal["malformed", "invalid", "unauthorized"]


class Source(Contract):
    topic: str
    partition: int
    offset: int


class DeadLetter(Contract):
    request_id: str
    reason: Reason
    errors: list[FieldError]
    payload: Any  # the original (integration_key redacted), or base64 of bytes that were not JSON
    source: Source
    rejected_at: datetime

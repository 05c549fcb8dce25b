"""Dead letters (invariant 10): whatever a producer puts on a topic and cannot be used ends
as a letter with its reason, carrying the original with every `pck_…` token redacted, bounded
in size, and always serializable. Shared by the consumers of outside input (ingest,
attestations, orders); `Intake` decodes a batch and collects its letters.
"""

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import structlog
from aiokafka import ConsumerRecord
from pydantic import BaseModel, ValidationError

from schemas.common import FieldError
from schemas.dlq import DeadLetter, Reason, Source
from shared.normalize import bounded_errors, field_errors
from shared.redact import redact_bytes, redact_json

log = structlog.get_logger(__name__)

# A dead letter carries at most this much of the original: a record near Kafka's message size
# limit would otherwise make a letter over it, which could never be published.
MAX_LETTER_PAYLOAD = 256 * 1024


@dataclass(frozen=True)
class Unreadable:
    """A record that is not JSON we can read, and why."""

    why: str


def decode_json(raw: bytes | None) -> Any:
    """The JSON value, or why the bytes are not JSON we can read."""
    if not raw:
        return Unreadable("empty")
    try:
        return json.loads(raw)
    except UnicodeDecodeError:
        return Unreadable("not UTF-8 text")
    except json.JSONDecodeError as e:
        return Unreadable(f"not JSON ({e.msg} at byte {e.pos})")
    except RecursionError:
        return Unreadable("JSON nested too deeply")
    except ValueError as e:  # e.g. an integer past Python's int-conversion limit
        return Unreadable(f"unreadable JSON value ({str(e)[:100]})")


def dead_letter(record: "ConsumerRecord[bytes, bytes]", body: Any, request_id: str,
                reason: Reason, errors: list[FieldError], at: datetime) -> DeadLetter:
    size = len(record.value or b"")
    payload: Any
    if isinstance(body, Unreadable) or size > MAX_LETTER_PAYLOAD:
        payload = _raw_payload(redact_bytes(record.value or b""), size)
    else:
        try:
            payload = redact_json(body)
        except (ValueError, RecursionError):
            payload = _raw_payload(redact_bytes(record.value or b""), size)
    return DeadLetter(request_id=request_id, reason=reason,
                      errors=bounded_errors(errors), payload=payload, rejected_at=at,
                      source=Source(topic=record.topic, partition=record.partition,
                                    offset=record.offset))


def _raw_payload(raw: bytes, size: int) -> Any:
    if size <= MAX_LETTER_PAYLOAD:
        return base64.b64encode(raw).decode("ascii")
    return {"truncated": True, "size": size,
            "head_base64": base64.b64encode(raw[:MAX_LETTER_PAYLOAD]).decode("ascii")}


def carried(letter: DeadLetter) -> DeadLetter:
    """The letter as it can travel: a payload that does not serialize (a lone surrogate, nesting
    deeper than the serializer goes) travels as base64 of its redacted ASCII JSON text."""
    try:
        letter.model_dump_json()
    except (ValueError, RecursionError):
        text = json.dumps(letter.payload).encode("ascii")
        return letter.model_copy(update={"payload": _raw_payload(text, len(text))})
    return letter


def received_at(record: "ConsumerRecord[bytes, bytes]") -> datetime:
    """When the broker took the record: the same on every redelivery."""
    return datetime.fromtimestamp(record.timestamp / 1000, UTC)


class Rejected(Exception):
    """Input that cannot be used, and why: it ends as a dead letter."""

    def __init__(self, reason: Reason, field: str, message: str) -> None:
        super().__init__(message)
        self.reason, self.errors = reason, [FieldError(field=field, message=message)]


M = TypeVar("M", bound=BaseModel)


class Intake(Generic[M]):
    """One batch of a topic of outside input: each record decoded into `model`, or a dead
    letter with its reason (nothing a record holds raises out of the batch)."""

    def __init__(self, model: type[M], what: str, request_id_field: str | None = None) -> None:
        self.model, self.what, self.request_id_field = model, what, request_id_field
        self.dead: list[DeadLetter] = []

    def decode(self, records: Sequence["ConsumerRecord[bytes, bytes]"]
               ) -> list[tuple["ConsumerRecord[bytes, bytes]", Any, M]]:
        """(record, its JSON body, the model) of each usable record."""
        out = []
        for record in records:
            body = decode_json(record.value)
            try:
                if isinstance(body, Unreadable):
                    raise Rejected("malformed", "payload", body.why)
                out.append((record, body, self.model.model_validate(body)))
            except Rejected as e:
                self.refuse(record, body, e.reason, e.errors)
            except ValidationError as e:
                self.refuse(record, body, "invalid", field_errors(e))
            except Exception as e:  # input we did not foresee is still only input
                self.refuse(record, body, "malformed", [FieldError(
                    field="payload", message=f"could not be processed ({type(e).__name__})")])
        return out

    def refuse(self, record: "ConsumerRecord[bytes, bytes]", body: Any, reason: Reason,
               errors: list[FieldError]) -> None:
        """A dead letter for `record`, named by the body's request id field when it has a
        usable one, else by the record's position."""
        where = f"{record.topic}:{record.partition}:{record.offset}"
        given = (body.get(self.request_id_field)
                 if self.request_id_field and isinstance(body, dict) else None)
        request_id = given if isinstance(given, str) and 0 < len(given) <= 128 else where
        self.dead.append(dead_letter(record, body, request_id, reason, errors,
                                     received_at(record)))
        log.info(f"{self.what} rejected", at=where, reason=reason,
                 errors=[e.model_dump() for e in errors[:5]])

    def letters(self) -> list[tuple[str, DeadLetter]]:
        """The batch's dead letters as they can travel, keyed by request id."""
        return [(d.request_id, carried(d)) for d in self.dead]

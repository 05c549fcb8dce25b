"""Dead letters (invariant 10): whatever a producer puts on a topic and cannot be used ends
as a letter with its reason, carrying the original with every `pck_…` token redacted, bounded
in size, and always serializable. Shared by the consumers of outside input (ingest, attestations).
"""

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiokafka import ConsumerRecord

from schemas.common import FieldError
from schemas.dlq import DeadLetter, Reason, Source
from shared.normalize import bounded_errors
from shared.redact import redact_bytes, redact_json

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

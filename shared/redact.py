"""Secrets never travel (invariant 11): every `pck_…` token is cut out of what is kept or
forwarded, wherever it stands in the payload (a nested object, an array, a string, bytes that are
not JSON at all), not only in the `integration_key` field."""

import json
import re
from collections.abc import MutableMapping
from typing import Any

REDACTED = "[redacted]"
# pck_int_…, pck_pub_…, pck_usr_…: the prefix and whatever token characters follow it.
TOKEN = re.compile(r"pck_[a-z]+_[A-Za-z0-9_\-]*")
TOKEN_BYTES = re.compile(rb"pck_[a-z]+_[A-Za-z0-9_\-]*")


def redact_text(text: str) -> str:
    return TOKEN.sub(REDACTED, text)


def redact_bytes(raw: bytes) -> bytes:
    return TOKEN_BYTES.sub(REDACTED.encode(), raw)


def redact_json(value: Any) -> Any:
    """The JSON value with every token in its strings and keys replaced. Goes through the ASCII
    text form, where a token is spelled literally even if the original escaped its characters
    (`pck\\u005fint_…`); lone surrogates stay escaped there and come back as they were."""
    return json.loads(redact_text(json.dumps(value)))


class RedactingText:
    """`structlog` processor: tokens out of every string value of a log event."""

    def __call__(self, _: Any, __: str, event: MutableMapping[str, Any]) -> dict[str, Any]:
        return {k: _redact_any(v) for k, v in event.items()}


def _redact_any(value: Any, depth: int = 0) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if depth > 8:
        return value
    if isinstance(value, dict):
        return {k: _redact_any(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_any(v, depth + 1) for v in value]
    return value

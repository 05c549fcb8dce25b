"""Integration key tokens: `pck_int_` + 32 random bytes (URL-safe base64), kept only as SHA-256."""

import hashlib
import secrets

TOKEN_PREFIX = "pck_int_"  # noqa: S105 - the public prefix, not a secret
TOKEN_BYTES = 32
# Enough of a token to recognise it in a list, never enough to use it.
DISPLAY_CHARS = len(TOKEN_PREFIX) + 6


def generate_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> bytes:
    # surrogatepass: a token with a lone surrogate (any JSON string may hold one) hashes to
    # something no key has, instead of raising out of a whole batch's authentication.
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


def looks_like_token(value: str) -> bool:
    return value.startswith(TOKEN_PREFIX) and len(value) > len(TOKEN_PREFIX)

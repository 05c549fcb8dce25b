"""Tokens: a prefix naming their kind + 32 random bytes (URL-safe base64), kept only as SHA-256.

`pck_int_` integration keys (upsert into their store), `pck_pub_` public keys (read),
`pck_usr_` members (their role's scopes): shared/access.py."""

import hashlib
import secrets

TOKEN_PREFIX = "pck_int_"  # noqa: S105 - the public prefix, not a secret
PUBLIC_PREFIX = "pck_pub_"
MEMBER_PREFIX = "pck_usr_"
TOKEN_BYTES = 32
# Enough of a token to recognise it in a list, never enough to use it.
DISPLAY_CHARS = len(TOKEN_PREFIX) + 6


def generate_token(prefix: str = TOKEN_PREFIX) -> str:
    return prefix + secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> bytes:
    # surrogatepass: a token with a lone surrogate (any JSON string may hold one) hashes to
    # something no key has, instead of raising out of a whole batch's authentication.
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


def looks_like_token(value: str) -> bool:
    return value.startswith(TOKEN_PREFIX) and len(value) > len(TOKEN_PREFIX)

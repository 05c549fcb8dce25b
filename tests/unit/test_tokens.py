"""Integration key tokens: their shape, their randomness, and the hash that is all we keep."""

import base64
import hashlib
import re

from shared.keys import TOKEN_PREFIX, generate_token, hash_token

URLSAFE = re.compile(r"^[A-Za-z0-9_-]+$")


def test_token_is_prefixed_and_carries_at_least_32_random_bytes() -> None:
    token = generate_token()
    assert token.startswith(TOKEN_PREFIX)
    body = token[len(TOKEN_PREFIX):]
    assert URLSAFE.match(body)
    assert len(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))) >= 32


def test_tokens_do_not_repeat() -> None:
    assert len({generate_token() for _ in range(1000)}) == 1000


def test_hash_is_sha256_of_the_token() -> None:
    token = generate_token()
    assert hash_token(token) == hashlib.sha256(token.encode()).digest()
    assert hash_token(token) != hash_token(generate_token())

"""Stores and their integration keys: the tenancy boundary every write path checks."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from shared.db import Pool
from shared.keys import DISPLAY_CHARS, TOKEN_PREFIX, generate_token, hash_token

INSERT_STORE = """
INSERT INTO stores (name, region) VALUES ($1, $2)
RETURNING id, name, region, created_at"""
INSERT_KEY = """
INSERT INTO integration_keys (store_id, label, token_hash, token_prefix)
SELECT s.id, $2, $3, $4 FROM stores s WHERE s.id = $1
RETURNING id, store_id, label, created_at"""
REVOKE_KEY = """
UPDATE integration_keys SET revoked_at = coalesce(revoked_at, now())
WHERE id = $1
RETURNING id, revoked_at"""
REGION = "SELECT region FROM stores WHERE id = $1"
AUTHENTICATE_MANY = """
SELECT k.token_hash, k.id, k.store_id, k.label, s.region
FROM integration_keys k JOIN stores s ON s.id = k.store_id
WHERE k.token_hash = ANY($1::bytea[]) AND k.revoked_at IS NULL"""


class StoreNotFoundError(LookupError):
    def __init__(self, store_id: UUID) -> None:
        super().__init__(f"no store {store_id}")
        self.store_id = store_id


class KeyNotFoundError(LookupError):
    def __init__(self, key_id: UUID) -> None:
        super().__init__(f"no integration key {key_id}")
        self.key_id = key_id


@dataclass(frozen=True)
class Store:
    id: UUID
    name: str
    region: str
    created_at: datetime


@dataclass(frozen=True)
class IssuedKey:
    """A newly created key. `token` exists only here: the database keeps its hash."""

    id: UUID
    store_id: UUID
    label: str
    token: str
    created_at: datetime


@dataclass(frozen=True)
class KeyIdentity:
    """Who an authenticated token is: the key, its store, and the store's phone region."""

    key_id: UUID
    store_id: UUID
    label: str
    region: str


async def create_store(pool: Pool, name: str, region: str = "US") -> Store:
    row = await pool.fetchrow(INSERT_STORE, name.strip(), region.upper())
    assert row is not None
    return Store(**dict(row))


async def create_key(pool: Pool, store_id: UUID, label: str) -> IssuedKey:
    return await issue_key(pool, INSERT_KEY, TOKEN_PREFIX, store_id, label)


async def issue_key(pool: Pool, insert: str, prefix: str, store_id: UUID, label: str
                    ) -> IssuedKey:
    """A new token of `prefix`, inserted by `insert` ($1 store, $2 label, $3 hash, $4 display
    prefix): the token is returned once, the database keeps its hash."""
    token = generate_token(prefix)
    row = await pool.fetchrow(insert, store_id, label.strip(), hash_token(token),
                              token[:DISPLAY_CHARS])
    if row is None:
        raise StoreNotFoundError(store_id)
    return IssuedKey(id=row["id"], store_id=row["store_id"], label=row["label"], token=token,
                     created_at=row["created_at"])


async def revoke_key(pool: Pool, key_id: UUID) -> datetime:
    return await revoke(pool, REVOKE_KEY, key_id, KeyNotFoundError(key_id))


async def revoke(pool: Pool, statement: str, row_id: UUID, missing: LookupError) -> datetime:
    """When the row was revoked (now, or earlier if it already was); `missing` if none."""
    row = await pool.fetchrow(statement, row_id)
    if row is None:
        raise missing
    revoked_at: datetime = row["revoked_at"]
    return revoked_at


async def region_of(pool: Pool, store_id: UUID) -> str | None:
    """The store's phone region (ISO 3166 alpha-2), or None when there is no such store."""
    region: str | None = await pool.fetchval(REGION, store_id)
    return region


async def authenticate(pool: Pool, token: str) -> KeyIdentity | None:
    """The live key behind a token, or None for an unknown or revoked one."""
    return (await authenticate_many(pool, [token])).get(token)


async def authenticate_many(pool: Pool, tokens: Iterable[str]) -> dict[str, KeyIdentity]:
    """The live keys behind many tokens in one round trip; unknown and revoked ones are absent."""
    by_hash = {hash_token(t): t for t in tokens}
    if not by_hash:
        return {}
    rows = await pool.fetch(AUTHENTICATE_MANY, list(by_hash))
    return {by_hash[r["token_hash"]]: KeyIdentity(key_id=r["id"], store_id=r["store_id"],
                                                  label=r["label"], region=r["region"])
            for r in rows}

"""Who a token is and what it may do (seed 000 "Settings & permissions"; DESIGN "Access").

`pck_int_` integration keys upsert into their store and nothing else; `pck_pub_` public keys
read (clients:read); `pck_usr_` members carry a role, and the role its scopes. Every route and
command asks `authenticate_token` (none or unknown: 401), then `require` (a missing scope: 403,
naming it), and looks ids up within the principal's store only (another store's: 404).
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from uuid import UUID

import asyncpg

from shared.db import Pool
from shared.keys import DISPLAY_CHARS, MEMBER_PREFIX, PUBLIC_PREFIX, generate_token, hash_token
from shared.stores import (
    IssuedKey,
    KeyNotFoundError,
    StoreNotFoundError,
    authenticate,
    issue_key,
    revoke,
)

Role = Literal["owner", "admin", "member", "viewer"]
ROLES: tuple[Role, ...] = ("owner", "admin", "member", "viewer")
READ, WRITE, DELETE, EXPORT, ERASE = ("clients:read", "clients:write", "clients:delete",
                                      "clients:export", "clients:erase")
# The store's settings (the RUO attestation text and window): its admins and owners.
SETTINGS = "settings:write"
ROLE_SCOPES: dict[Role, frozenset[str]] = {
    "viewer": frozenset({READ}),
    "member": frozenset({READ, WRITE}),
    "admin": frozenset({READ, WRITE, DELETE, EXPORT, SETTINGS}),
    "owner": frozenset({READ, WRITE, DELETE, EXPORT, ERASE, SETTINGS}),
}
PUBLIC_SCOPES = frozenset({READ})

MEMBER_BY_HASH = """
SELECT id, store_id, name, role FROM members WHERE token_hash = $1 AND revoked_at IS NULL"""
PUBLIC_KEY_BY_HASH = """
SELECT id, store_id, label FROM public_keys WHERE token_hash = $1 AND revoked_at IS NULL"""
INSERT_MEMBER = """
INSERT INTO members (store_id, name, role, token_hash, token_prefix)
SELECT s.id, $2, $3, $4, $5 FROM stores s WHERE s.id = $1
RETURNING id, store_id, name, role, created_at"""
MEMBERS = """
SELECT id, name, role, token_prefix, created_at, revoked_at FROM members
WHERE store_id = $1 ORDER BY created_at, id"""
REVOKE_MEMBER = """
UPDATE members SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1
RETURNING id, revoked_at"""
INSERT_PUBLIC_KEY = """
INSERT INTO public_keys (store_id, label, token_hash, token_prefix)
SELECT s.id, $2, $3, $4 FROM stores s WHERE s.id = $1
RETURNING id, store_id, label, created_at"""
REVOKE_PUBLIC_KEY = """
UPDATE public_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1
RETURNING id, revoked_at"""


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: its kind, id, store, name (for the audit log) and scopes."""

    kind: Literal["member", "public_key", "integration_key"]
    id: UUID
    store_id: UUID
    name: str
    scopes: frozenset[str]


class MissingScopeError(PermissionError):
    """403: the token is genuine but may not do this; says which scope it lacks."""

    def __init__(self, scope: str) -> None:
        super().__init__(f"missing scope {scope}")
        self.scope = scope


class MemberNotFoundError(LookupError):
    def __init__(self, member_id: UUID) -> None:
        super().__init__(f"no member {member_id}")
        self.member_id = member_id


def require(principal: Principal, scope: str) -> None:
    if scope not in principal.scopes:
        raise MissingScopeError(scope)


async def authenticate_token(pool: Pool, token: str) -> Principal | None:
    """The live member or key behind a token, by its prefix; None for anything else."""
    if token.startswith(MEMBER_PREFIX):
        row = await pool.fetchrow(MEMBER_BY_HASH, hash_token(token))
        return None if row is None else Principal(
            "member", row["id"], row["store_id"], row["name"], ROLE_SCOPES[row["role"]])
    if token.startswith(PUBLIC_PREFIX):
        row = await pool.fetchrow(PUBLIC_KEY_BY_HASH, hash_token(token))
        return None if row is None else Principal(
            "public_key", row["id"], row["store_id"], row["label"], PUBLIC_SCOPES)
    key = await authenticate(pool, token)
    # an integration key upserts through the Integration API; it holds no clients:* scope
    return None if key is None else Principal("integration_key", key.key_id, key.store_id,
                                              key.label, frozenset())


@dataclass(frozen=True)
class IssuedMember:
    """A new member. `token` exists only here: the database keeps its hash."""

    id: UUID
    store_id: UUID
    name: str
    role: Role
    token: str
    created_at: datetime


async def add_member(pool: Pool, store_id: UUID, name: str, role: Role) -> IssuedMember:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    token = generate_token(MEMBER_PREFIX)
    try:
        row = await pool.fetchrow(INSERT_MEMBER, store_id, name.strip(), role,
                                  hash_token(token), token[:DISPLAY_CHARS])
    except asyncpg.CheckViolationError as e:
        raise ValueError("a member needs a name of 1 to 200 characters") from e
    if row is None:
        raise StoreNotFoundError(store_id)
    return IssuedMember(id=row["id"], store_id=row["store_id"], name=row["name"],
                        role=row["role"], token=token, created_at=row["created_at"])


async def list_members(pool: Pool, store_id: UUID) -> list[dict[str, object]]:
    """The store's members with their token's display prefix, never the token."""
    return [dict(r) for r in await pool.fetch(MEMBERS, store_id)]


async def revoke_member(pool: Pool, member_id: UUID) -> datetime:
    return await revoke(pool, REVOKE_MEMBER, member_id, MemberNotFoundError(member_id))


async def create_public_key(pool: Pool, store_id: UUID, label: str) -> IssuedKey:
    return await issue_key(pool, INSERT_PUBLIC_KEY, PUBLIC_PREFIX, store_id, label)


async def revoke_public_key(pool: Pool, key_id: UUID) -> datetime:
    return await revoke(pool, REVOKE_PUBLIC_KEY, key_id, KeyNotFoundError(key_id))

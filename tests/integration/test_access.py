"""Members and public keys in the database and through the CLI: tokens shown once and kept as
SHA-256 only, each kind and role authenticating to its scopes, revocation, and a public key that
cannot upsert."""

import hashlib
import json
import subprocess
import sys
import uuid

import pytest

from shared import access, stores
from shared.db import Pool


@pytest.mark.parametrize("role", access.ROLES)
async def test_a_members_token_authenticates_to_its_roles_scopes_in_its_store(
        pool: Pool, store: stores.Store, role: access.Role) -> None:
    member = await access.add_member(pool, store.id, f"Ana {role}", role)
    assert member.token.startswith("pck_usr_")
    who = await access.authenticate_token(pool, member.token)
    assert who == access.Principal("member", member.id, store.id, f"Ana {role}",
                                   access.ROLE_SCOPES[role])
    kept = await pool.fetchrow("SELECT * FROM members WHERE id = $1", member.id)
    assert kept is not None
    assert kept["token_hash"] == hashlib.sha256(member.token.encode()).digest()
    assert member.token not in json.dumps(dict(kept), default=str)


async def test_a_public_key_reads_only_and_cannot_upsert(pool: Pool,
                                                         store: stores.Store) -> None:
    key = await access.create_public_key(pool, store.id, "Storefront widget")
    assert key.token.startswith("pck_pub_")
    who = await access.authenticate_token(pool, key.token)
    assert who is not None
    assert (who.kind, who.scopes) == ("public_key", frozenset({"clients:read"}))
    assert await stores.authenticate(pool, key.token) is None   # no Integration API, no ingest


async def test_an_integration_key_holds_no_clients_scope(pool: Pool, store: stores.Store) -> None:
    key = await stores.create_key(pool, store.id, "Woo")
    who = await access.authenticate_token(pool, key.token)
    assert who is not None
    assert (who.kind, who.scopes) == ("integration_key", frozenset())


async def test_revoked_unknown_and_malformed_tokens_are_nobody(pool: Pool,
                                                               store: stores.Store) -> None:
    member = await access.add_member(pool, store.id, "Leaver", "admin")
    public = await access.create_public_key(pool, store.id, "Old widget")
    await access.revoke_member(pool, member.id)
    await access.revoke_public_key(pool, public.id)
    for token in (member.token, public.token, "pck_usr_" + "x" * 43, "pck_pub_", "",
                  "Bearer pck_usr_x", "pck_usr_\ud800"):
        assert await access.authenticate_token(pool, token) is None, token
    with pytest.raises(access.MemberNotFoundError):
        await access.revoke_member(pool, uuid.uuid4())
    with pytest.raises(stores.StoreNotFoundError):
        await access.add_member(pool, uuid.uuid4(), "Ghost", "viewer")
    with pytest.raises(ValueError, match="role"):
        await access.add_member(pool, store.id, "Nobody", "superuser")  # type: ignore[arg-type]


def clients(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "services.cli", *args],
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.usefixtures("pool")  # migrated
def test_the_cli_adds_lists_and_revokes_members_and_makes_public_keys() -> None:
    store = json.loads(clients("store", "create", "--name", "Access Co").stdout)
    added = clients("member", "add", "--store", store["id"], "--name", "Ana", "--role", "admin")
    assert added.returncode == 0, added.stderr
    member = json.loads(added.stdout)
    assert member["token"].startswith("pck_usr_")
    assert member["scopes"] == ["clients:delete", "clients:export", "clients:read",
                                "clients:write", "settings:write"]
    listed = json.loads(clients("member", "list", "--store", store["id"]).stdout)
    assert [(m["name"], m["role"]) for m in listed] == [("Ana", "admin")]
    assert member["token"] not in json.dumps(listed)
    assert listed[0]["token_prefix"] == member["token"][:14]
    revoked = clients("member", "revoke", member["id"])
    assert revoked.returncode == 0, revoked.stderr
    assert json.loads(revoked.stdout)["revoked_at"]

    public = json.loads(clients("key", "create", "--store", store["id"], "--label", "Widget",
                                "--public").stdout)
    assert public["token"].startswith("pck_pub_")
    assert clients("key", "revoke", public["id"]).returncode == 0
    bad_role = clients("member", "add", "--store", store["id"], "--name", "X", "--role", "god")
    assert bad_role.returncode == 2
    no_store = clients("member", "add", "--store", str(uuid.uuid4()), "--name", "X",
                       "--role", "viewer")
    assert (no_store.returncode, "no store" in no_store.stderr) == (1, True)

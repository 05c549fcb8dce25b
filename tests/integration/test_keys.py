"""Stores and integration keys in the database and through the CLI."""

import hashlib
import json
import subprocess
import sys
import uuid

import pytest

from shared import stores
from shared.db import Pool
from shared.keys import TOKEN_PREFIX


async def test_only_the_hash_is_stored_and_it_authenticates(pool: Pool,
                                                            store: stores.Store) -> None:
    key = await stores.create_key(pool, store.id, "WooCommerce")
    row = await pool.fetchrow("SELECT * FROM integration_keys WHERE id = $1", key.id)
    assert row is not None
    assert row["token_hash"] == hashlib.sha256(key.token.encode()).digest()
    secret_part = key.token[len(TOKEN_PREFIX) + 6:]
    assert all(secret_part not in str(v) for v in row.values())

    identity = await stores.authenticate(pool, key.token)
    assert identity == stores.KeyIdentity(key_id=key.id, store_id=store.id,
                                          label="WooCommerce", region="US")
    assert await stores.authenticate(pool, key.token + "x") is None


async def test_a_revoked_key_no_longer_authenticates(pool: Pool, store: stores.Store) -> None:
    key = await stores.create_key(pool, store.id, "Shopify")
    first = await stores.revoke_key(pool, key.id)
    assert await stores.authenticate(pool, key.token) is None
    assert await stores.revoke_key(pool, key.id) == first  # revoking twice keeps the first time


async def test_unknown_store_and_key_are_clear_errors(pool: Pool) -> None:
    with pytest.raises(stores.StoreNotFoundError):
        await stores.create_key(pool, uuid.uuid4(), "x")
    with pytest.raises(stores.KeyNotFoundError):
        await stores.revoke_key(pool, uuid.uuid4())


def clients(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "services.cli", *args],
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.usefixtures("pool")  # migrated
def test_cli_creates_store_and_key_and_revokes_it() -> None:
    made = clients("store", "create", "--name", "Sigma Labs", "--region", "gb")
    assert made.returncode == 0, made.stderr
    store = json.loads(made.stdout)
    assert store["name"] == "Sigma Labs"
    assert store["region"] == "GB"

    issued = clients("key", "create", "--store", store["id"], "--label", "Woo")
    assert issued.returncode == 0, issued.stderr
    key = json.loads(issued.stdout)
    assert key["token"].startswith("pck_int_")
    assert key["store_id"] == store["id"]

    revoked = clients("key", "revoke", key["id"])
    assert revoked.returncode == 0, revoked.stderr
    assert json.loads(revoked.stdout)["revoked_at"]

    missing = clients("key", "create", "--store", str(uuid.uuid4()), "--label", "x")
    assert missing.returncode == 1
    assert "no store" in missing.stderr

"""The clients API in tests: a store with a token of every kind, its clients, an HTTP client
of the running pipeline's edge (the fixtures: tests/integration/conftest.py)."""

import uuid
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from shared import access, stores
from shared.db import Pool
from shared.resolver import resolve_batch
from tests.support.factories import command as upsert


@dataclass(frozen=True)
class Shop:
    store: stores.Store
    key: stores.IssuedKey
    tokens: dict[str, str]   # owner, admin, member, viewer, public, integration

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


async def a_shop(pool: Pool) -> Shop:
    store = await stores.create_store(pool, f"api {uuid.uuid4().hex[:8]}")
    key = await stores.create_key(pool, store.id, "WooCommerce")
    tokens: dict[str, str] = {
        role: (await access.add_member(pool, store.id, role.title(), role)).token
        for role in access.ROLES}
    tokens["public"] = (await access.create_public_key(pool, store.id, "Storefront")).token
    tokens["integration"] = key.token
    return Shop(store, key, tokens)


async def a_client(pool: Pool, shop: Shop, email: str, **fields: Any) -> UUID:
    (r,) = await resolve_batch(pool, [upsert(shop.key, email=email, **fields)])
    assert r.client_id is not None
    return r.client_id

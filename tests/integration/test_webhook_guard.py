"""The SSRF guard, at registration and at delivery time."""

import uuid
from collections.abc import AsyncIterator

import pytest

from services.webhooks import endpoints
from services.webhooks.errors import UnsafeURLError
from services.webhooks.guard import networks
from services.webhooks.http import create_session, post
from shared import stores
from shared.db import Pool
from shared.settings import Settings
from tests.support.webhook_helpers import hooks_settings
from tests.support.webhook_receiver import Receiver, running_receiver

LOOPBACK = networks(["127.0.0.1/32"])


@pytest.mark.parametrize("url", [
    "http://10.0.0.7/hook", "http://169.254.169.254/latest/meta-data/", "http://[::1]:8080/",
    "http://[::ffff:10.0.0.1]/", "ftp://127.0.0.1/hook",
    "file:///etc/passwd", "http:///nohost"])
async def test_registration_refuses_unsafe_urls_and_writes_nothing(
        url: str, settings: Settings, pool: Pool, store: stores.Store) -> None:
    s = hooks_settings(settings)  # 127.0.0.1 allowed
    with pytest.raises(UnsafeURLError):
        await endpoints.add_endpoint(pool, s, store.id, url, [])
    assert await endpoints.list_endpoints(pool, store.id) == []


async def test_a_name_resolving_to_loopback_is_refused_unless_allowed(
        settings: Settings, pool: Pool, store: stores.Store) -> None:
    strict = hooks_settings(settings, webhook_allowed_networks=[])
    with pytest.raises(UnsafeURLError, match=r"localhost resolves to non-public .*127\.0\.0\.1"):
        await endpoints.add_endpoint(pool, strict, store.id, "http://localhost/", [])
    loose = hooks_settings(settings, webhook_allowed_networks=["127.0.0.0/8", "::1/128"])
    added = await endpoints.add_endpoint(pool, loose, store.id, "http://localhost/", [])
    assert added["secret"].startswith("whsec_")
    await endpoints.set_enabled(pool, added["id"], False)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with running_receiver() as r:
        yield r


async def test_delivery_time_checks_the_address_it_connects_to(
        settings: Settings, receiver: Receiver) -> None:
    """DNS may change after registration: the check runs again when connecting."""
    hook = receiver.hook(uuid.uuid4().hex)
    hook.secrets.append(endpoints.new_secret())
    port = receiver.base_url.rsplit(":", 1)[1]
    by_name = f"http://localhost:{port}/hooks/{hook.name}"
    by_ip = f"{receiver.base_url}/hooks/{hook.name}"
    s = hooks_settings(settings)
    for allowed in ((), networks(["10.0.0.0/8"])):
        async with create_session(s, allowed) as session:
            for url in (by_name, by_ip):
                attempt = await post(session, allowed, url, uuid.uuid4(), "{}", hook.secrets)
                assert attempt.status_code is None
                assert attempt.error is not None
                assert "refused" in attempt.error
    assert hook.received == []  # nothing reached the receiver

    async with create_session(s, LOOPBACK) as session:
        attempt = await post(session, LOOPBACK, by_ip, uuid.uuid4(), "{}", hook.secrets)
    assert attempt.status_code == 200
    assert len(hook.received) == 1

"""Webhook fan-out on the real broker and database, to a local receiver that verifies every
request with the `standardwebhooks` library."""

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from services.webhooks import endpoints
from shared import access, stores
from shared.db import Pool
from shared.settings import Settings
from shared.topics import EVENTS, WEBHOOK_EVENTS
from tests.conftest import Pipeline, eventually
from tests.support.kafka_helpers import Watcher, committed_total, end_offsets
from tests.support.webhook_helpers import (
    client_event,
    hooks_settings,
    publish_events,
    running_webhooks,
)
from tests.support.webhook_receiver import Hook, Receiver, running_receiver

AddHook = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture(scope="module")
async def service(settings: Settings, pool: Pool) -> AsyncIterator[Settings]:
    async with running_webhooks(hooks_settings(settings)) as s:
        yield s


@pytest.fixture(scope="module")
async def receiver() -> AsyncIterator[Receiver]:
    async with running_receiver() as r:
        yield r


@pytest.fixture
async def add_hook(pool: Pool, service: Settings) -> AsyncIterator[AddHook]:
    """Register an endpoint for a receiver hook; the hook then verifies with its secret.
    Endpoints made here are disabled afterwards, so no retry outlives its test."""
    made: list[uuid.UUID] = []

    async def add(store_id: uuid.UUID, hook: Hook, events: list[str] | None = None
                  ) -> dict[str, Any]:
        endpoint = await endpoints.add_endpoint(pool, service, store_id, hook.url, events or [])
        hook.secrets.append(endpoint["secret"])
        made.append(endpoint["id"])
        return endpoint

    yield add
    for endpoint_id in made:
        await endpoints.set_enabled(pool, endpoint_id, False)


async def deliveries(pool: Pool, endpoint_id: uuid.UUID) -> list[dict[str, Any]]:
    return await endpoints.list_deliveries(pool, endpoint_id, None, 1000)


async def consumed_everything(settings: Settings) -> None:
    """Wait until the webhooks consumer has committed past everything on the events topic."""
    end = await end_offsets(settings.kafka_bootstrap_servers, EVENTS)

    async def caught_up() -> bool:
        return await committed_total(settings.kafka_bootstrap_servers,
                                     settings.group_prefix + "webhooks", EVENTS) >= end
    await eventually(caught_up)


async def test_every_event_reaches_every_endpoint_once_even_when_redelivered(
        pool: Pool, service: Settings, receiver: Receiver, store: stores.Store,
        add_hook: AddHook) -> None:
    a, b = receiver.hook(uuid.uuid4().hex), receiver.hook(uuid.uuid4().hex)
    ea, eb = await add_hook(store.id, a), await add_hook(store.id, b)
    events = [client_event(store.id) for _ in range(20)]
    await publish_events(service, events)
    await publish_events(service, events)  # Kafka redelivers: the same events again

    await eventually(lambda: len(a.received) >= 20 and len(b.received) >= 20)
    await consumed_everything(service)
    await eventually(lambda: _all_settled(pool, [ea["id"], eb["id"]]))

    expected = sorted(str(e.id) for e in events)
    for hook, endpoint in ((a, ea), (b, eb)):
        assert sorted(hook.ids()) == expected  # each once, none twice
        assert hook.refused == []
        states = [d["state"] for d in await deliveries(pool, endpoint["id"])]
        assert states == ["succeeded"] * 20
    first = next(r for r in a.received if r.id == str(events[0].id))
    assert first.json["type"] == "client.created"
    assert first.json["data"]["id"] == str(events[0].client.id)
    assert first.json["data"]["email"] == events[0].client.email
    assert datetime.fromisoformat(first.json["timestamp"]) == events[0].occurred_at
    assert first.headers["webhook-signature"].startswith("v1,")


async def test_a_failing_endpoint_gets_the_event_again_with_the_same_webhook_id(
        pool: Pool, service: Settings, receiver: Receiver, store: stores.Store,
        add_hook: AddHook) -> None:
    hook = receiver.hook(uuid.uuid4().hex, script=[500, 500, 200])
    endpoint = await add_hook(store.id, hook)
    event = client_event(store.id)
    await publish_events(service, [event])

    await eventually(lambda: _all_settled(pool, [endpoint["id"]]))
    (delivery,) = await deliveries(pool, endpoint["id"])
    assert (delivery["state"], delivery["tries"]) == ("succeeded", 3), delivery
    assert hook.ids() == [str(event.id)] * 3
    log = await endpoints.attempts(pool, delivery["id"])
    assert [a["status_code"] for a in log] == [500, 500, 200]
    assert log[0]["response"] == "answered 500"
    assert log[0]["error"] == "HTTP 500"
    assert all(a["latency_ms"] > 0 for a in log)


async def test_a_redirect_is_a_failure_and_is_not_followed(
        pool: Pool, service: Settings, receiver: Receiver, store: stores.Store,
        add_hook: AddHook) -> None:
    elsewhere = receiver.hook(uuid.uuid4().hex)
    hook = receiver.hook(uuid.uuid4().hex, script=[(307, {"Location": elsewhere.url}), 200])
    endpoint = await add_hook(store.id, hook)
    await publish_events(service, [client_event(store.id)])

    await eventually(lambda: _all_settled(pool, [endpoint["id"]]))
    (delivery,) = await deliveries(pool, endpoint["id"])
    log = await endpoints.attempts(pool, delivery["id"])
    assert [a["status_code"] for a in log] == [307, 200]
    assert elsewhere.received == elsewhere.refused == []  # nothing reached the target


async def test_retries_stop_when_the_schedule_is_spent(
        pool: Pool, service: Settings, receiver: Receiver, store: stores.Store,
        add_hook: AddHook) -> None:
    attempts = 1 + len(service.webhook_retry_schedule_s)
    hook = receiver.hook(uuid.uuid4().hex, script=[503] * (attempts + 5))
    endpoint = await add_hook(store.id, hook)
    await publish_events(service, [client_event(store.id)])

    await eventually(lambda: _all_settled(pool, [endpoint["id"]]))
    (delivery,) = await deliveries(pool, endpoint["id"])
    assert (delivery["state"], delivery["tries"]) == ("failed", attempts)
    assert delivery["last_error"] == "HTTP 503"
    assert len(hook.received) == attempts


async def test_retry_after_is_honoured(pool: Pool, service: Settings, receiver: Receiver,
                                       store: stores.Store, add_hook: AddHook) -> None:
    hook = receiver.hook(uuid.uuid4().hex, script=[(429, {"Retry-After": "2"}), 200])
    endpoint = await add_hook(store.id, hook)
    await publish_events(service, [client_event(store.id)])

    await eventually(lambda: _all_settled(pool, [endpoint["id"]]))
    first, second = hook.received
    # The schedule alone would have retried after 0.2 s.
    assert second.at - first.at >= timedelta(seconds=1.9)


async def test_410_gone_disables_the_endpoint_and_says_so(
        pool: Pool, pipeline: Pipeline, service: Settings, receiver: Receiver,
        store: stores.Store, add_hook: AddHook) -> None:
    hook = receiver.hook(uuid.uuid4().hex, script=[410])
    endpoint = await add_hook(store.id, hook)
    async with Watcher(service.kafka_bootstrap_servers, WEBHOOK_EVENTS) as watcher:
        await publish_events(service, [client_event(store.id)])
        (news,) = await watcher.take(lambda v: v["endpoint_id"] == str(endpoint["id"]))
    assert news["type"] == "webhook.endpoint_disabled"
    assert news["reason"] == "gone"
    assert news["store_id"] == str(store.id)
    (listed,) = await endpoints.list_endpoints(pool, store.id)
    assert listed["disabled_reason"] == "gone"
    assert listed["disabled_at"] is not None

    later = client_event(store.id)
    await publish_events(service, [later])
    await consumed_everything(service)
    kept = [d for d in await deliveries(pool, endpoint["id"]) if d["event_id"] == later.id]
    assert [(d["state"], d["last_error"]) for d in kept] == [("failed", "endpoint disabled")]
    assert len(hook.received) == 1  # nothing was sent after the 410


async def test_an_endpoint_failing_for_the_whole_window_is_disabled(
        pool: Pool, pipeline: Pipeline, service: Settings, receiver: Receiver,
        store: stores.Store, add_hook: AddHook) -> None:
    old, young = (receiver.hook(uuid.uuid4().hex, script=[500] * 10) for _ in range(2))
    e_old, e_young = await add_hook(store.id, old), await add_hook(store.id, young)
    window = timedelta(seconds=service.webhook_disable_after_s)
    # Failing streaks that began just over and just under the window ago.
    await pool.execute("UPDATE webhook_endpoints SET failing_since = now() - $2::interval "
                       "WHERE id = $1", e_old["id"], window + timedelta(hours=1))
    await pool.execute("UPDATE webhook_endpoints SET failing_since = now() - $2::interval "
                       "WHERE id = $1", e_young["id"], window - timedelta(hours=1))
    async with Watcher(service.kafka_bootstrap_servers, WEBHOOK_EVENTS) as watcher:
        await publish_events(service, [client_event(store.id)])
        (news,) = await watcher.take(lambda v: v["endpoint_id"] == str(e_old["id"]))
    assert news["reason"] == "failing"
    await eventually(lambda: len(young.received) >= 2)  # still retried
    listed = {e["id"]: e for e in await endpoints.list_endpoints(pool, store.id)}
    assert listed[e_old["id"]]["disabled_reason"] == "failing"
    assert listed[e_young["id"]]["disabled_at"] is None


async def test_replay_after_re_enabling_sends_what_was_kept(
        pool: Pool, service: Settings, receiver: Receiver, store: stores.Store,
        add_hook: AddHook) -> None:
    hook = receiver.hook(uuid.uuid4().hex)
    endpoint = await add_hook(store.id, hook)
    since = datetime.now(UTC)
    await endpoints.set_enabled(pool, endpoint["id"], False)
    events = [client_event(store.id) for _ in range(3)]
    await publish_events(service, events)
    await consumed_everything(service)
    assert hook.received == []
    with pytest.raises(ValueError, match="enable it first"):
        await endpoints.replay_failed(pool, endpoint["id"], since)

    await endpoints.set_enabled(pool, endpoint["id"], True)
    assert await endpoints.replay_failed(pool, endpoint["id"], since) == 3
    await eventually(lambda: len(hook.received) == 3)
    assert sorted(hook.ids()) == sorted(str(e.id) for e in events)

    # One delivery, even a succeeded one, can be sent again: same webhook-id.
    one = (await deliveries(pool, endpoint["id"]))[0]
    await endpoints.replay_delivery(pool, one["id"])
    await eventually(lambda: len(hook.received) == 4)
    assert hook.received[-1].id == str(one["event_id"])


async def test_endpoints_get_only_their_store_and_their_event_types(
        pool: Pool, service: Settings, receiver: Receiver, add_hook: AddHook) -> None:
    s1 = await stores.create_store(pool, "hooks one")
    s2 = await stores.create_store(pool, "hooks two")
    every, created_only, other = (receiver.hook(uuid.uuid4().hex) for _ in range(3))
    await add_hook(s1.id, every)
    await add_hook(s1.id, created_only, ["client.created"])
    await add_hook(s2.id, other)
    mine = [client_event(s1.id, "client.created"), client_event(s1.id, "client.updated"),
            client_event(s1.id, "client.archived")]
    theirs = [client_event(s2.id, "client.updated")]
    await publish_events(service, mine + theirs)

    await eventually(lambda: (len(every.received) == 3 and len(other.received) == 1
                                   and len(created_only.received) == 1))
    await consumed_everything(service)
    assert sorted(every.ids()) == sorted(str(e.id) for e in mine)
    assert created_only.ids() == [str(mine[0].id)]
    assert other.ids() == [str(theirs[0].id)]
    with pytest.raises(ValueError, match="unknown event type"):
        await endpoints.add_endpoint(pool, service, s1.id, every.url, ["client.deleted"])


async def test_secret_rotation_signs_with_both_secrets_for_the_overlap(
        pool: Pool, service: Settings, receiver: Receiver, store: stores.Store,
        add_hook: AddHook) -> None:
    hook = receiver.hook(uuid.uuid4().hex)
    endpoint = await add_hook(store.id, hook)
    old = endpoint["secret"]
    new = (await endpoints.rotate_secret(pool, service, endpoint["id"]))["secret"]
    assert new != old
    assert new.startswith("whsec_")
    hook.secrets = [new]  # a receiver that switched at once keeps verifying
    await publish_events(service, [client_event(store.id)])
    await eventually(lambda: len(hook.received) == 1)
    during = hook.received[0]
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    _verify(old, during)  # and one that has not switched yet too

    await pool.execute("UPDATE webhook_endpoints SET previous_secret_until = now() "
                       "WHERE id = $1", endpoint["id"])  # the overlap is over
    await publish_events(service, [client_event(store.id)])
    await eventually(lambda: len(hook.received) == 2)
    after = hook.received[1]
    _verify(new, after)
    with pytest.raises(WebhookVerificationError):
        _verify(old, after)


async def test_a_dead_endpoint_does_not_delay_a_live_one(
        pool: Pool, service: Settings, receiver: Receiver, store: stores.Store,
        add_hook: AddHook) -> None:
    dead = receiver.hook(uuid.uuid4().hex, hang=True)  # accepts, never answers
    live = receiver.hook(uuid.uuid4().hex)
    await add_hook(store.id, dead)
    await add_hook(store.id, live)
    events = [client_event(store.id) for _ in range(100)]
    await publish_events(service, events)

    await eventually(lambda: len(live.received) == 100)
    # Every live delivery went through while the dead endpoint had not answered once, and it
    # holds no more connections than its own share.
    assert dead.open_requests > 0
    assert len(dead.received) <= service.webhook_max_per_endpoint
    assert sorted(live.ids()) == sorted(str(e.id) for e in events)
    assert dead.gate is not None
    dead.gate.set()


async def test_a_client_created_through_the_api_reaches_its_stores_endpoint(
        pool: Pool, pipeline: Pipeline, service: Settings, receiver: Receiver,
        store: stores.Store, add_hook: AddHook) -> None:
    hook = receiver.hook(uuid.uuid4().hex)
    await add_hook(store.id, hook)
    key = await stores.create_key(pool, store.id, "Storefront")
    async with httpx.AsyncClient(base_url=pipeline.base_url, timeout=30) as http:
        created = await http.post("/integrations/v1/clients",
                                  headers={"Authorization": f"Bearer {key.token}"},
                                  json={"email": "Hooked@Shop.com", "name": "Hooked Person"})
    assert created.status_code == 201, created.text
    await eventually(lambda: len(hook.received) == 1)
    body = hook.received[0].json
    assert body["type"] == "client.created"
    assert body["data"]["id"] == created.json()["client"]["id"]
    assert body["data"]["email"] == "Hooked@Shop.com"


async def test_an_archived_client_reaches_an_endpoint_subscribed_to_archives_and_frees_its_email(
        pool: Pool, pipeline: Pipeline, service: Settings, receiver: Receiver,
        store: stores.Store, add_hook: AddHook) -> None:
    hook = receiver.hook(uuid.uuid4().hex)
    await add_hook(store.id, hook, ["client.archived"])
    key = await stores.create_key(pool, store.id, "Storefront")
    admin = await access.add_member(pool, store.id, "Ana", "admin")
    integration = {"Authorization": f"Bearer {key.token}"}
    async with httpx.AsyncClient(base_url=pipeline.base_url, timeout=30) as http:
        first = await http.post("/integrations/v1/clients", headers=integration,
                                json={"email": "gone@shop.com", "name": "Gone Soon"})
        client_id = first.json()["client"]["id"]
        archived = await http.delete(f"/v1/clients/{client_id}",
                                     headers={"Authorization": f"Bearer {admin.token}"})
        assert archived.status_code == 200, archived.text
        await eventually(lambda: len(hook.received) == 1)
        body = hook.received[0].json
        assert (body["type"], body["data"]["id"], body["data"]["version"]) == \
            ("client.archived", client_id, 2)
        again = await http.post("/integrations/v1/clients", headers=integration,
                                json={"email": "GONE@shop.com", "name": "Back Again"})
    assert again.status_code == 201, again.text
    assert again.json()["client"]["id"] != client_id


def _verify(secret: str, received: Any) -> None:
    Webhook(secret).verify(received.body, received.headers)



async def _all_settled(pool: Pool, endpoint_ids: list[uuid.UUID]) -> bool:
    """Some delivery exists and none is pending (one query: one snapshot)."""
    row = await pool.fetchrow(
        "SELECT count(*) AS total, count(*) FILTER (WHERE state = 'pending') AS pending "
        "FROM webhook_deliveries WHERE endpoint_id = ANY($1::uuid[])", endpoint_ids)
    assert row is not None
    return bool(row["total"]) and row["pending"] == 0
